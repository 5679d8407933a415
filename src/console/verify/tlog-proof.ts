import { fromBase64 } from './bytes.js';

/** A c2sp.org/tlog-proof@v1 file: the entry's index, its inclusion proof, the signed checkpoint. */
export interface TlogProof {
  readonly index: number;
  readonly proof: readonly Uint8Array[];
  readonly checkpoint: string;
}

const HEADER = 'c2sp.org/tlog-proof@v1';
const MAX_HASHES = 64;

/** Parses strictly; the string says which line is wrong. */
export function parseTlogProof(text: string): TlogProof | string {
  if (typeof text !== 'string') return 'the proof is not text';
  const lines = text.split('\n');
  if (lines[0] !== HEADER) return `the first line is not "${HEADER}"`;
  let at = 1;
  if (lines[at]?.startsWith('extra ')) at += 1;
  const index = /^index (0|[1-9][0-9]*)$/.exec(lines[at] ?? '')?.[1];
  if (index === undefined || !Number.isSafeInteger(Number(index)))
    return `line ${at + 1}: expected "index <decimal>"`;
  const proof: Uint8Array[] = [];
  for (at += 1; at < lines.length && lines[at] !== ''; at += 1) {
    const hash = fromBase64(lines[at] ?? '');
    if (hash?.length !== 32) return `line ${at + 1}: a proof line is not a base64 SHA-256 hash`;
    proof.push(hash);
  }
  if (proof.length > MAX_HASHES) return `more than ${MAX_HASHES} proof hashes`;
  if (at >= lines.length) return 'truncated: no blank line before the checkpoint';
  return { index: Number(index), proof, checkpoint: lines.slice(at + 1).join('\n') };
}
