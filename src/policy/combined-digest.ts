import { sha256Hex } from '../core/digest.js';

/**
 * The policy digest a receipt names when several policy sets decided one call
 * (the bridge's tool-call policy and the gateway's global policies): sha256
 * over their digests, one per line, in the order they were evaluated.
 */
export function combinedPolicyDigest(...digests: readonly string[]): string {
  return sha256Hex(digests.join('\n'));
}
