import { utf8 } from './bytes.js';
import { canonicalJson } from './jcs.js';
import { leafHash, verifyInclusion } from './merkle.js';
import { noteSignedBy, parseCheckpoint, parseLogKey, parseSignedNote } from './note.js';
import { inclusionProofFromTiles, type TileReader } from './tiles.js';
import type { VerifyCheck } from './verify-receipt.js';

export interface PublishedInput {
  readonly envelope: unknown;
  readonly index: number;
  /** The log's published checkpoint (GET /v1/log/checkpoint), a signed note. */
  readonly checkpoint: string;
  readonly logKey: string;
  readonly readTile: TileReader;
}

/**
 * The receipt against the log as everyone sees it: the published checkpoint,
 * signed by the log key, and an RFC 6962 inclusion proof this code builds from
 * the public hash tiles (not the proof the server handed over with the receipt).
 * Never throws: a failure is a failed check with its reason.
 */
export async function checkPublishedInclusion(input: PublishedInput): Promise<VerifyCheck> {
  const fail = (detail: string): VerifyCheck => ({ name: 'published-inclusion', ok: false, detail });
  try {
    const key = await parseLogKey(input.logKey);
    const note = parseSignedNote(input.checkpoint);
    const checkpoint = note === undefined ? undefined : parseCheckpoint(note.text);
    if (key === undefined) return fail('the log key is not a valid Ed25519 C2SP verifier key');
    if (note === undefined || checkpoint === undefined) return fail('the published checkpoint is malformed');
    if (checkpoint.origin !== key.name || !(await noteSignedBy(note, key)))
      return fail('the published checkpoint is not signed by the log key');
    if (checkpoint.size <= input.index) {
      return {
        name: 'published-inclusion',
        ok: true,
        detail: `not yet covered by the published checkpoint (size ${checkpoint.size}); the receipt's own proof above covers it`,
      };
    }
    const proof = await inclusionProofFromTiles(input.index, checkpoint.size, input.readTile);
    const leaf = await leafHash(utf8(canonicalJson(input.envelope)));
    const included = await verifyInclusion(input.index, checkpoint.size, leaf, proof, checkpoint.root);
    if (!included.ok) return fail(`from the tiles: ${included.reason}`);
    return {
      name: 'published-inclusion',
      ok: true,
      detail: `entry ${input.index} of the published checkpoint (size ${checkpoint.size}), with a ${proof.length}-hash proof built here from the log's tiles`,
    };
  } catch (error) {
    return fail(
      `could not check against the published log: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
