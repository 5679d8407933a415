import { fromBase64 } from '../verify/index.js';
import type { ConsoleApi } from './api.js';

/** The keys receipts and checkpoints are checked against. */
export interface PublicKeys {
  readonly origin: string;
  readonly logKey: string;
  readonly airlockKeys: readonly Uint8Array[];
}

const PIN = 'oacp.console.pinned-keys';

/**
 * The log and Airlock public keys: pinned in this tab's session storage the
 * first time (trust on first use), so a gateway that later swaps its keys is
 * caught by Verify instead of silently trusted; `oacp keys` prints the same
 * keys to compare with.
 */
export async function loadKeys(api: ConsoleApi): Promise<PublicKeys> {
  const served = await api.get<{ origin: string; logKey: string; airlockKeys: string[] }>('/v1/log/keys');
  const pinned = sessionStorage.getItem(PIN);
  const use = pinned === null ? served : (JSON.parse(pinned) as typeof served);
  if (pinned === null) sessionStorage.setItem(PIN, JSON.stringify(served));
  return {
    origin: use.origin,
    logKey: use.logKey,
    airlockKeys: use.airlockKeys.map((key) => fromBase64(key)).filter((key) => key !== undefined),
  };
}
