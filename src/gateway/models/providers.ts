import { CircuitBreaker } from './breaker.js';
import type { ModelsSection, ProviderConfig } from './config.js';
import type { ProviderError, ProviderErrorClass, ProviderProbe } from './provider-health.js';
import { ProviderClient } from './upstream.js';

export interface ProviderHealth {
  readonly name: string;
  readonly kind: ProviderConfig['kind'];
  readonly breaker: CircuitBreaker['state'];
  /** The class of the provider's last failure (never its words), and when. */
  readonly lastError?: ProviderError;
}

interface Entry {
  readonly client: ProviderClient;
  readonly breaker: CircuitBreaker;
  lastError?: ProviderError;
  /** The last health probe, shared by the reports that ask within PROBE_REUSE_MS. */
  probe?: { readonly at: number; readonly result: Promise<ProviderProbe> };
}

/** A health report asked for again within this long reuses the probe: a reader cannot make the gateway hammer a provider. */
const PROBE_REUSE_MS = 5_000;

/** Each configured provider's pooled client and breaker, for the gateway's lifetime. */
export class Providers {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(config: ModelsSection, now?: () => number) {
    this.#now = now ?? Date.now;
    for (const provider of config.providers) {
      this.#entries.set(provider.name, {
        client: new ProviderClient(provider),
        breaker: new CircuitBreaker({
          failures: config.breaker.failures,
          cooldownMs: config.breaker.cooldown_ms,
          ...(now === undefined ? {} : { now }),
        }),
      });
    }
  }

  get(name: string): Entry {
    const entry = this.#entries.get(name);
    if (entry === undefined) throw new Error(`no provider ${name}`);
    return entry;
  }

  health(): ProviderHealth[] {
    return [...this.#entries.entries()].map(([name, entry]) => ({
      name,
      kind: entry.client.config.kind,
      breaker: entry.breaker.state,
      ...(entry.lastError === undefined ? {} : { lastError: entry.lastError }),
    }));
  }

  /** The provider's probe: `run`'s, or the one started less than PROBE_REUSE_MS ago. */
  probe(name: string, run: () => Promise<ProviderProbe>): Promise<ProviderProbe> {
    const entry = this.get(name);
    const now = this.#now();
    if (entry.probe === undefined || now - entry.probe.at >= PROBE_REUSE_MS) {
      entry.probe = { at: now, result: run() };
    }
    return entry.probe.result;
  }

  /** Records why a call to `name` failed, for health reports. */
  failed(name: string, errorClass: ProviderErrorClass): void {
    const entry = this.#entries.get(name);
    if (entry !== undefined) entry.lastError = { class: errorClass, at: new Date(this.#now()).toISOString() };
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.#entries.values()].map((entry) => entry.client.close().catch(() => undefined)),
    );
  }
}
