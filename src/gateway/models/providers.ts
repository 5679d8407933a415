import { CircuitBreaker } from './breaker.js';
import type { ModelsSection, ProviderConfig } from './config.js';
import { ProviderClient } from './upstream.js';

export interface ProviderHealth {
  readonly name: string;
  readonly kind: ProviderConfig['kind'];
  readonly breaker: CircuitBreaker['state'];
}

/** Each configured provider's pooled client and breaker, for the gateway's lifetime. */
export class Providers {
  readonly #entries = new Map<string, { client: ProviderClient; breaker: CircuitBreaker }>();

  constructor(config: ModelsSection, now?: () => number) {
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

  get(name: string): { client: ProviderClient; breaker: CircuitBreaker } {
    const entry = this.#entries.get(name);
    if (entry === undefined) throw new Error(`no provider ${name}`);
    return entry;
  }

  health(): ProviderHealth[] {
    return [...this.#entries.entries()].map(([name, entry]) => ({
      name,
      kind: entry.client.config.kind,
      breaker: entry.breaker.state,
    }));
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.#entries.values()].map((entry) => entry.client.close().catch(() => undefined)),
    );
  }
}
