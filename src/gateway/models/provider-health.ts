import type { ProviderConfig } from './config.js';
import type { ProviderSecrets } from './dispatch.js';
import type { ProviderHealth, Providers } from './providers.js';
import type { ProviderClient } from './upstream.js';

/**
 * Why a provider call failed, as a class: never the provider's words (they may
 * quote a key or the request), only what an operator acts on.
 */
export type ProviderErrorClass =
  | 'timeout'
  | 'connection_refused'
  | 'dns'
  | 'network'
  | 'rate_limited'
  | 'server_error'
  | 'auth_rejected'
  | 'client_error';

export interface ProviderError {
  readonly class: ProviderErrorClass;
  readonly at: string;
}

/** A reachability check that spends no tokens: the provider's models list. */
export interface ProviderProbe {
  readonly reachable: boolean;
  /** The HTTP status of the models list, when one came back. */
  readonly status?: number;
  readonly latencyMs: number;
  /** Whether the provider took the vault's key: unknown when no key is stored or the answer says neither. */
  readonly key: 'accepted' | 'rejected' | 'none stored' | 'unknown';
  readonly error?: ProviderErrorClass;
}

/** The class of a thrown transport error (undici's codes, then Node's). */
export function classOfError(error: unknown): ProviderErrorClass {
  const code = String((error as { code?: unknown; cause?: { code?: unknown } })?.code ?? '');
  const cause = String((error as { cause?: { code?: unknown } })?.cause?.code ?? '');
  const name = error instanceof Error ? error.name : '';
  const codes = `${code} ${cause}`;
  if (/TIMEOUT|ETIMEDOUT/.test(codes) || name === 'TimeoutError' || name === 'AbortError') return 'timeout';
  if (/ECONNREFUSED/.test(codes)) return 'connection_refused';
  if (/ENOTFOUND|EAI_AGAIN/.test(codes)) return 'dns';
  return 'network';
}

/** The class of a provider's HTTP status (undefined for a success). */
export function classOfStatus(status: number): ProviderErrorClass | undefined {
  if (status < 400) return undefined;
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth_rejected';
  if (status >= 500) return 'server_error';
  return 'client_error';
}

const PROBE_TIMEOUT_MS = 5_000;

/**
 * GET the provider's models list (`/models` under an OpenAI-compatible base
 * URL, `/v1/models` on Anthropic's host) with the vault's key: no tokens are
 * spent. Any HTTP answer means reachable; 401/403 means the key was refused.
 */
export async function probeProvider(
  provider: ProviderConfig,
  client: ProviderClient,
  secrets: ProviderSecrets | undefined,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<ProviderProbe> {
  const headers: Record<string, string> = { ...(secrets?.headers() ?? {}) };
  if (provider.kind === 'anthropic') headers['anthropic-version'] = '2023-06-01';
  const hasKey = Object.keys(headers).some((name) => name !== 'anthropic-version');
  const started = performance.now();
  try {
    const status = await client.probe(
      provider.kind === 'anthropic' ? '/v1/models' : '/models',
      headers,
      timeoutMs,
    );
    const error = classOfStatus(status);
    return {
      reachable: true,
      status,
      latencyMs: Math.round(performance.now() - started),
      key: !hasKey
        ? 'none stored'
        : error === 'auth_rejected'
          ? 'rejected'
          : status < 300
            ? 'accepted'
            : 'unknown',
      ...(error === undefined ? {} : { error }),
    };
  } catch (error) {
    return {
      reachable: false,
      latencyMs: Math.round(performance.now() - started),
      key: hasKey ? 'unknown' : 'none stored',
      error: classOfError(error),
    };
  }
}

export interface ProviderStatus extends ProviderHealth {
  readonly probe: ProviderProbe;
}

/** Each configured provider: its breaker and last error class as the gateway saw them, and a fresh probe. */
export async function providersStatus(
  configs: readonly ProviderConfig[],
  providers: Providers,
  secretsFor: (provider: ProviderConfig) => Promise<ProviderSecrets>,
): Promise<ProviderStatus[]> {
  const health = new Map(providers.health().map((entry) => [entry.name, entry]));
  return Promise.all(
    configs.map(async (config) => {
      const probe = await providers.probe(config.name, async () => {
        // No readable key is probed without one: reachability still shows.
        const secrets = await secretsFor(config).catch(() => undefined);
        return probeProvider(config, providers.get(config.name).client, secrets);
      });
      const seen = health.get(config.name) ?? {
        name: config.name,
        kind: config.kind,
        breaker: 'closed' as const,
      };
      return { ...seen, probe };
    }),
  );
}
