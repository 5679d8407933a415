import type { z } from 'zod';
import type { ModelAttemptSchema } from '../../attest/model-call.js';
import { backoffMs, retryableStatus } from './backoff.js';
import type { ProviderConfig } from './config.js';
import type { TokenUsage } from './dialect.js';
import { classOfError, classOfStatus } from './provider-health.js';
import type { Providers } from './providers.js';
import type { UpstreamResponse } from './upstream.js';

export type Attempt = z.infer<typeof ModelAttemptSchema>;

/** The provider key headers for one provider, and a redactor for anything that might echo them. */
export interface ProviderSecrets {
  headers(): Record<string, string>;
  redact(text: string): string;
  /**
   * The provider refused this key (401, 403): a copy kept in memory (provider-keys.ts) is
   * dropped, so the next call reads the vault again and a key rotated elsewhere is used at once.
   */
  rejected?(): void;
}

export type Dispatched =
  | {
      readonly ok: true;
      readonly provider: ProviderConfig;
      /** A 2xx answer, or the provider's own refusal of the request (a 4xx worth no retry). */
      readonly response: UpstreamResponse;
      readonly attempts: readonly Attempt[];
    }
  | {
      readonly ok: false;
      readonly attempts: readonly Attempt[];
      readonly reason: string;
      readonly status: number;
      /** The provider may have run the call anyway (a batch submitted, then lost): the reservation stays spent. */
      readonly spent?: boolean;
    };

export interface DispatchInput {
  readonly providers: readonly ProviderConfig[];
  readonly pool: Providers;
  readonly path: string;
  /** The body for each provider (only the upstream model differs between them in practice). */
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly secretsFor: (provider: ProviderConfig) => Promise<ProviderSecrets>;
  readonly signal?: AbortSignal;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  /**
   * Reads a 2xx answer whole and judges it (answer-shape.ts): a provider's error in a 2xx counts
   * as a failed try, retried and failed over like a 5xx; anything else comes back readable again.
   * Absent for a stream, which is judged event by event as it is relayed.
   */
  readonly inspect?: (response: UpstreamResponse) => Promise<Inspected>;
}

export type Inspected =
  | { readonly kind: 'answer'; readonly response: UpstreamResponse }
  | {
      readonly kind: 'error';
      readonly reason: string;
      readonly message?: string;
      /** The usage the body reported (and its tier): the provider billed the try though it is failed over. */
      readonly billed?: NonNullable<Attempt['billed']>;
    };

/** What the tries that did not serve the call were billed all the same (Inspected `billed`), summed. */
export function billedUsage(attempts: readonly Attempt[]): TokenUsage {
  let inputTokens = 0;
  let outputTokens = 0;
  for (const attempt of attempts) {
    inputTokens += attempt.billed?.inputTokens ?? 0;
    outputTokens += attempt.billed?.outputTokens ?? 0;
  }
  return { inputTokens, outputTokens };
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Tries each provider in turn: up to `max_retries` more times on a 429, a 5xx,
 * a timeout or a refused connection (backoff with full jitter, the provider's
 * Retry-After honoured), then the next provider. An open breaker skips its
 * provider at once. A 4xx that retrying cannot fix is the provider's answer
 * and ends the search. A 2xx whose body is a provider's error (`inspect`) is a failed try too.
 * Every try is listed for the receipt.
 */
export async function dispatch(input: DispatchInput): Promise<Dispatched> {
  const attempts: Attempt[] = [];
  const sleep = input.sleep ?? realSleep;
  const now = input.now ?? (() => performance.now());
  let lastStatus = 502;
  let lastReason = 'no provider was tried';
  for (const provider of input.providers) {
    const { client, breaker } = input.pool.get(provider.name);
    const secrets = await input.secretsFor(provider);
    for (let attempt = 0; attempt <= provider.max_retries; attempt++) {
      if (input.signal?.aborted) return { ok: false, attempts, reason: 'the client went away', status: 499 };
      if (!breaker.tryAcquire()) {
        attempts.push({ provider: provider.name, status: 0, durationMs: 0, error: 'circuit breaker open' });
        lastStatus = 503;
        lastReason = `provider ${provider.name}'s circuit breaker is open (retry in ${Math.ceil(breaker.retryInMs() / 1000)} s)`;
        break;
      }
      const started = now();
      let response: UpstreamResponse;
      try {
        response = await client.post(
          input.path,
          input.body,
          { ...input.headers, ...secrets.headers() },
          input.signal,
        );
      } catch (error) {
        if (input.signal?.aborted) {
          // No verdict on the provider: a probe's turn goes to the next call.
          breaker.abandon();
          // Cancelled while the provider had the request: it may have run it, so it counts as spent.
          attempts.push({
            provider: provider.name,
            status: 0,
            durationMs: now() - started,
            error: 'cancelled',
          });
          return {
            ok: false,
            attempts,
            reason: 'cancelled while the provider had the request',
            status: 499,
            spent: true,
          };
        }
        breaker.failure();
        input.pool.failed(provider.name, classOfError(error));
        const message = secrets.redact(describe(error));
        attempts.push({ provider: provider.name, status: 0, durationMs: now() - started, error: message });
        lastStatus = 502;
        lastReason = `provider ${provider.name}: ${message}`;
        if (attempt < provider.max_retries) await sleep(backoffMs(attempt));
        continue;
      }
      const inspected =
        input.inspect !== undefined && response.status >= 200 && response.status < 300
          ? await input.inspect(response)
          : ({ kind: 'answer', response } as const);
      if (inspected.kind === 'error') {
        breaker.failure();
        input.pool.failed(provider.name, 'server_error');
        attempts.push({
          provider: provider.name,
          status: response.status,
          durationMs: now() - started,
          error: `HTTP ${response.status} with ${inspected.reason}`,
          ...(inspected.billed === undefined ? {} : { billed: inspected.billed }),
        });
        lastStatus = 502;
        // The provider's words reach the agent and the receipt's reason only redacted; a try's entry never holds them.
        const words = inspected.message === undefined ? '' : `: ${secrets.redact(inspected.message)}`;
        lastReason = `provider ${provider.name} answered HTTP ${response.status} with ${inspected.reason}${words}`;
        if (attempt < provider.max_retries) await sleep(backoffMs(attempt));
        continue;
      }
      response = inspected.response;
      if (!retryableStatus(response.status)) {
        breaker.success();
        // The provider's answer to pass on, but a refused key is worth an operator's look.
        if (classOfStatus(response.status) === 'auth_rejected') {
          input.pool.failed(provider.name, 'auth_rejected');
          secrets.rejected?.();
        }
        attempts.push({ provider: provider.name, status: response.status, durationMs: now() - started });
        return { ok: true, provider, response, attempts };
      }
      breaker.failure();
      input.pool.failed(provider.name, classOfStatus(response.status) ?? 'server_error');
      await response.dump().catch(() => undefined);
      attempts.push({
        provider: provider.name,
        status: response.status,
        durationMs: now() - started,
        error: `HTTP ${response.status}`,
      });
      lastStatus = response.status === 429 ? 429 : 502;
      lastReason = `provider ${provider.name} answered HTTP ${response.status}`;
      if (attempt < provider.max_retries)
        await sleep(backoffMs(attempt, {}, retryAfter(response.headers['retry-after'])));
    }
  }
  return { ok: false, attempts, reason: `every provider failed; last: ${lastReason}`, status: lastStatus };
}

function retryAfter(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) ? seconds : undefined;
}

function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, 300);
}
