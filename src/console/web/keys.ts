import { fromBase64, parseLogKey } from '../verify/index.js';
import type { ConsoleApi } from './api.js';

/** The keys receipts and checkpoints are checked against. */
export interface PublicKeys {
  readonly origin: string;
  /** The log key Verify uses: the operator's (entered at login) or the one pinned on first use. */
  readonly logKey: string;
  readonly airlockKeys: readonly Uint8Array[];
  /** Who chose the log key: the operator at login, or this tab on first use. */
  readonly pinnedBy: 'operator' | 'first-use';
  /** Set when the gateway now serves another log key than the pinned one: Verify fails with it. */
  readonly mismatch?: string;
}

const PIN = 'oacp.console.pinned-keys';
const EXPECTED = 'oacp.console.expected-log-key';

/**
 * Remembers the log key the operator expects (`oacp log key` on the gateway's
 * host), checked for form first; an empty one means pin on first use.
 * Returns a message naming the field when it is not a log key.
 */
export async function setExpectedLogKey(text: string): Promise<string | undefined> {
  const key = text.trim();
  if (key === '') {
    sessionStorage.removeItem(EXPECTED);
    return undefined;
  }
  if ((await parseLogKey(key)) === undefined)
    return 'Expected log key: not a log verifier key (origin+keyid+base64, as `oacp log key` prints it)';
  sessionStorage.setItem(EXPECTED, key);
  sessionStorage.removeItem(PIN);
  return undefined;
}

/**
 * The log and Airlock public keys. The log key is the one the operator
 * entered at login, else the one the gateway served the first time in this
 * tab (trust on first use); either way a gateway that later serves another
 * key is reported as a mismatch, which Verify shows as a failed check
 * instead of silently trusting the new key.
 */
export async function loadKeys(api: ConsoleApi): Promise<PublicKeys> {
  const served = await api.get<{ origin: string; logKey: string; airlockKeys: string[] }>('/v1/log/keys');
  const expected = sessionStorage.getItem(EXPECTED);
  const pinned = sessionStorage.getItem(PIN);
  const first = pinned === null ? served : (JSON.parse(pinned) as typeof served);
  if (pinned === null) sessionStorage.setItem(PIN, JSON.stringify(served));
  const logKey = expected ?? first.logKey;
  const pinnedBy = expected === null ? 'first-use' : 'operator';
  const mismatch =
    served.logKey === logKey
      ? undefined
      : `the gateway serves log key ${served.logKey}, not the ${pinnedBy === 'operator' ? 'expected one entered at login' : 'one pinned on first use'} (${logKey})`;
  return {
    origin: first.origin,
    logKey,
    airlockKeys: first.airlockKeys.map((key) => fromBase64(key)).filter((key) => key !== undefined),
    pinnedBy,
    ...(mismatch === undefined ? {} : { mismatch }),
  };
}
