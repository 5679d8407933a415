/**
 * How much a verified receipt can be trusted, weakest to strongest. Levels are
 * cumulative: each needs everything the one before it needs.
 * - Untrusted: some check failed, or no signature verifies.
 * - Basic: exactly one party signed (the agent, or the Airlock alone).
 * - Standard: the agent and the Airlock both signed.
 * - Verified: Standard, plus a TEE quote bound to the statement that a quote verifier accepted.
 * - Maximum: Verified, plus witness cosignatures on the log checkpoint that includes it.
 */
export type TrustLevel = 'Untrusted' | 'Basic' | 'Standard' | 'Verified' | 'Maximum';

export const TRUST_LEVELS: readonly TrustLevel[] = ['Untrusted', 'Basic', 'Standard', 'Verified', 'Maximum'];

export interface TrustEvidence {
  /** Every check passed. */
  readonly allChecksPassed: boolean;
  readonly airlockSigned: boolean;
  readonly agentSigned: boolean;
  /** A TEE quote was present, bound to the statement and accepted by a verifier. */
  readonly teeVerified: boolean;
  /** The log verifier found witness cosignatures on a checkpoint that includes this receipt. */
  readonly witnessed: boolean;
}

export function trustLevel(evidence: TrustEvidence): TrustLevel {
  if (!evidence.allChecksPassed) return 'Untrusted';
  const parties = Number(evidence.airlockSigned) + Number(evidence.agentSigned);
  if (parties === 0) return 'Untrusted';
  if (parties === 1) return 'Basic';
  if (!evidence.teeVerified) return 'Standard';
  if (!evidence.witnessed) return 'Verified';
  return 'Maximum';
}

/** Whether `level` meets `minimum` (for policies such as "require Standard"). */
export function meetsTrustLevel(level: TrustLevel, minimum: TrustLevel): boolean {
  return TRUST_LEVELS.indexOf(level) >= TRUST_LEVELS.indexOf(minimum);
}
