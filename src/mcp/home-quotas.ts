import type { QuotaEngine } from '../airlock/quota/engine.js';
import { StoreQuotaEngine } from '../airlock/quota/store-engine.js';
import { defaultStorePath } from '../store/open-store.js';
import { openRecordedStore } from '../store/store-identity.js';

/** The quota engine on the home's store, shared by every `oacp mcp run` and the gateway on that home. */
export interface HomeQuotas {
  readonly engine: QuotaEngine;
  close(): Promise<void>;
}

/**
 * Opens `<home>/gateway.db` for the bridge's call quotas, so a limit holds
 * across bridges on one home and survives a restart or kill -9 (the take is
 * on disk before the call goes ahead). A store that is not the one the home
 * recorded (deleted or replaced while no bridge ran) is refused: its buckets
 * would all start full.
 */
export async function openHomeQuotas(home: string): Promise<HomeQuotas> {
  const store = await openRecordedStore(home, defaultStorePath(home));
  return { engine: new StoreQuotaEngine(store), close: () => store.close() };
}
