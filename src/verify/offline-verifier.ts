import type { TrustLevel } from '../attest/trust-level.js';
import type { ReceiptCheck } from '../attest/verify-receipt.js';
import { verifyReceiptEnvelope } from '../attest/verify-receipt.js';
import { canonicalize } from '../core/jcs.js';
import { verifyTlogProof } from '../log/tlog-proof-verify.js';

/** One named check of a full offline verification, in the order it ran. */
export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface OfflineVerification {
  /** Everything asked for holds. */
  readonly ok: boolean;
  readonly trustLevel: TrustLevel;
  readonly checks: readonly Check[];
  readonly logIndex?: number;
}

export interface OfflineVerifyInput {
  /** The receipt file's text: a DSSE envelope. */
  readonly receipt: string;
  /** A c2sp.org/tlog-proof@v1 file proving the receipt is in the log. */
  readonly proof?: string;
  /** The log's C2SP verifier key; required with `proof`. */
  readonly logKey?: string;
  /** Raw Airlock public keys the receipt may be signed by. */
  readonly airlockKeys: readonly Uint8Array[];
  /** Witness verifier keys (cosignature/v1) and how many must have cosigned the checkpoint. */
  readonly witnessKeys?: readonly string[];
  readonly witnessThreshold?: number;
  readonly expectedAgentDid?: string;
}

/**
 * `oacp verify` as a library: from public keys alone, checks the receipt's
 * envelope, statement and signatures, then (when a proof is given) the log's
 * signature on the checkpoint, witness cosignatures and inclusion of this exact
 * receipt. Never throws on bad input: every problem is a failed check.
 */
export function verifyOffline(input: OfflineVerifyInput): OfflineVerification {
  const checks: Check[] = [];
  let envelope: unknown;
  try {
    envelope = JSON.parse(input.receipt);
  } catch {
    return fail(checks, { name: 'receipt-json', ok: false, detail: 'the receipt is not valid JSON' });
  }

  let witnessed = false;
  let logIndex: number | undefined;
  if (input.proof !== undefined || input.logKey !== undefined) {
    const log = checkLog(envelope, input);
    checks.push(...log.checks);
    witnessed = log.witnessed;
    logIndex = log.index;
  }

  const receipt = verifyReceiptEnvelope(envelope, {
    airlockKeys: input.airlockKeys,
    witnessed,
    ...(input.expectedAgentDid === undefined ? {} : { expectedAgentDid: input.expectedAgentDid }),
  });
  const all = [...receipt.checks.map(asCheck), ...checks];
  const ok = all.every((check) => check.ok);
  return {
    ok,
    trustLevel: ok ? receipt.trustLevel : 'Untrusted',
    checks: all,
    ...(logIndex === undefined ? {} : { logIndex }),
  };
}

function checkLog(
  envelope: unknown,
  input: OfflineVerifyInput,
): { checks: Check[]; witnessed: boolean; index?: number } {
  if (input.proof === undefined) {
    return {
      checks: [{ name: 'log-inclusion', ok: false, detail: 'a log key was given but no --proof file' }],
      witnessed: false,
    };
  }
  if (input.logKey === undefined) {
    return {
      checks: [
        { name: 'log-inclusion', ok: false, detail: 'a proof was given but no --log-key to check it' },
      ],
      witnessed: false,
    };
  }
  let entry: Buffer;
  try {
    // The log holds the JCS form of the envelope; re-canonicalizing lets a pretty-printed copy verify too.
    entry = Buffer.from(canonicalize(envelope), 'utf8');
  } catch (error) {
    return {
      checks: [
        { name: 'log-inclusion', ok: false, detail: `cannot canonicalize the receipt: ${String(error)}` },
      ],
      witnessed: false,
    };
  }
  const witnessKeys = input.witnessKeys ?? [];
  const threshold = input.witnessThreshold ?? (witnessKeys.length > 0 ? witnessKeys.length : 0);
  const verdict = verifyTlogProof(input.proof, {
    entry,
    logKey: input.logKey,
    witnessKeys,
    witnessThreshold: threshold,
  });
  if (!verdict.ok) {
    return {
      checks: [{ name: 'log-inclusion', ok: false, detail: `${verdict.code}: ${verdict.reason}` }],
      witnessed: false,
    };
  }
  const { checkpoint, proof, cosignatures } = verdict.value;
  const checks: Check[] = [
    {
      name: 'log-checkpoint',
      ok: true,
      detail: `checkpoint of ${checkpoint.origin} at size ${checkpoint.size} is signed by the log key`,
    },
    {
      name: 'log-inclusion',
      ok: true,
      detail: `receipt is entry ${proof.index} of ${checkpoint.size} (${proof.proof.length}-hash inclusion proof)`,
    },
  ];
  if (threshold > 0) {
    checks.push({
      name: 'witness-cosignatures',
      ok: true,
      detail: `${cosignatures.length} of ${witnessKeys.length} witness(es) cosigned the checkpoint`,
    });
  }
  return { checks, witnessed: threshold > 0 && cosignatures.length >= threshold, index: proof.index };
}

function asCheck(check: ReceiptCheck): Check {
  return { name: check.name, ok: check.ok, detail: check.detail };
}

function fail(checks: Check[], check: Check): OfflineVerification {
  return { ok: false, trustLevel: 'Untrusted', checks: [...checks, check] };
}
