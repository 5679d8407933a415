import type { QuotaEngine } from '../airlock/quota/engine.js';
import type { HomeQuotas } from './home-quotas.js';

/** The home's quota engine, opened when first asked for (a server's first network request), not at start. */
export interface LazyHomeQuotas {
  /** Rejects when the store cannot be opened; the next call tries again. */
  engine(): Promise<QuotaEngine>;
  /** Closes the store if it was opened; later calls to `engine` reject. */
  close(): Promise<void>;
}

/** The bucket of one server's network_requests_per_min: every `oacp mcp run` of it on the home takes from it. */
export function networkBudgetKey(server: string): string {
  return `mcp_run:${server}:network_requests_per_min`;
}

/**
 * `<home>/gateway.db` as openHomeQuotas opens it (the store the home recorded), loaded on first use:
 * a bridge whose server never asks for the network neither loads the store's code nor opens it.
 */
export function lazyHomeQuotas(home: string): LazyHomeQuotas {
  let opening: Promise<HomeQuotas> | undefined;
  let closed = false;
  return {
    engine: async () => {
      if (closed) throw new Error('the home quota store is closed');
      opening ??= import('./home-quotas.js').then((module) => module.openHomeQuotas(home));
      const current = opening;
      try {
        return (await current).engine;
      } catch (error) {
        // Not kept: a store that failed to open (busy, replaced) is tried again at the next request.
        if (opening === current) opening = undefined;
        throw error;
      }
    },
    close: async () => {
      closed = true;
      const current = opening;
      opening = undefined;
      await (await current?.catch(() => undefined))?.close();
    },
  };
}
