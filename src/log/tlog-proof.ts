import { describeError } from '../core/errors.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { parseCheckpoint } from './checkpoint.js';
import { logError } from './errors.js';
import { HASH_SIZE } from './hash.js';
import { parseNote } from './note-format.js';

/** A c2sp.org/tlog-proof@v1 file: everything needed to check one entry's inclusion offline. */
export interface TlogProof {
  /** Opaque, unauthenticated application data. */
  readonly extra?: Uint8Array;
  readonly index: number;
  /** RFC 6962 inclusion proof, leaf sibling first. */
  readonly proof: readonly Uint8Array[];
  /** The signed checkpoint note, verbatim (it may carry witness cosignatures). */
  readonly checkpoint: string;
}

export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';
/** A SHA-256 tree of safe-integer size has fewer levels than this. */
const MAX_PROOF_HASHES = 64;

export function formatTlogProof(proof: TlogProof): string {
  const lines = [TLOG_PROOF_HEADER];
  if (proof.extra !== undefined) lines.push(`extra ${encodeBase64(proof.extra)}`);
  lines.push(`index ${proof.index}`, ...proof.proof.map(encodeBase64), '');
  return `${lines.join('\n')}\n${proof.checkpoint}`;
}

/** Parses a .tlog-proof file strictly; throws LOG_MALFORMED_PROOF_FILE naming the line that failed. */
export function parseTlogProof(text: string): TlogProof {
  const fail = (why: string) => logError('LOG_MALFORMED_PROOF_FILE', `tlog-proof: ${why}`);
  if (typeof text !== 'string') throw fail('the proof is not text');
  const lines = text.split('\n');
  if (lines[0] !== TLOG_PROOF_HEADER) throw fail(`the first line is not "${TLOG_PROOF_HEADER}"`);
  let at = 1;
  let extra: Uint8Array | undefined;
  if (lines[at]?.startsWith('extra')) {
    const encoded = lines[at]?.startsWith('extra ') ? lines[at]?.slice('extra '.length) : undefined;
    extra = encoded === undefined ? undefined : decodeBase64(encoded);
    if (extra === undefined) throw fail(`line ${at + 1}: the extra data is not "extra <base64>"`);
    at += 1;
  }
  const indexMatch = /^index (0|[1-9][0-9]*)$/.exec(lines[at] ?? '');
  if (indexMatch?.[1] === undefined) {
    throw fail(
      `line ${at + 1}: expected "index <decimal>" after the header${extra ? ' and extra line' : ''}`,
    );
  }
  const index = Number(indexMatch[1]);
  if (!Number.isSafeInteger(index)) throw fail(`line ${at + 1}: the index is too large`);
  at += 1;
  const proof: Uint8Array[] = [];
  for (; at < lines.length && lines[at] !== ''; at += 1) {
    const hash = decodeBase64(lines[at] ?? '');
    if (hash === undefined || hash.length !== HASH_SIZE) {
      throw fail(`line ${at + 1}: a proof line is not a base64 SHA-256 hash`);
    }
    proof.push(hash);
  }
  if (proof.length > MAX_PROOF_HASHES) throw fail(`more than ${MAX_PROOF_HASHES} proof hashes`);
  if (at >= lines.length) throw fail('truncated: no blank line before the checkpoint');
  const checkpoint = lines.slice(at + 1).join('\n');
  try {
    parseCheckpoint(parseNote(checkpoint).text);
  } catch (error) {
    throw fail(`the checkpoint after line ${at + 1} is malformed (${describeError(error)})`);
  }
  return extra === undefined ? { index, proof, checkpoint } : { extra, index, proof, checkpoint };
}
