import { toHex } from '../verify/index.js';
import { noteSignedBy, parseCheckpoint, parseLogKey, parseSignedNote } from '../verify/note.js';

export interface CheckpointHealth {
  readonly origin?: string;
  readonly size?: number;
  readonly root?: string;
  readonly signed: boolean;
  readonly cosigners: readonly string[];
}

/** Reads the published checkpoint and checks the log's signature on it with WebCrypto. */
export async function checkpointHealth(note: string, logKey: string): Promise<CheckpointHealth> {
  const signed = parseSignedNote(note);
  const body = signed === undefined ? undefined : parseCheckpoint(signed.text);
  const key = await parseLogKey(logKey);
  if (signed === undefined || body === undefined) return { signed: false, cosigners: [] };
  const valid = key !== undefined && body.origin === key.name && (await noteSignedBy(signed, key));
  return {
    origin: body.origin,
    size: body.size,
    root: toHex(body.root),
    signed: valid,
    cosigners: signed.signatures.filter((line) => line.name !== key?.name).map((line) => line.name),
  };
}
