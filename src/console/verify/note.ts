import { concat, fromBase64, sha256, utf8, verifyEd25519 } from './bytes.js';

const SIG_TYPE_ED25519 = 0x01;
const MAX_NOTE = 1 << 20;

/** A C2SP verifier key, `<name>+<hex8 key ID>+base64(0x01 || Ed25519 key)`. */
export interface LogKey {
  readonly name: string;
  readonly keyId: number;
  readonly publicKey: Uint8Array;
}

export interface SignatureLine {
  readonly name: string;
  readonly keyId: number;
  readonly signature: Uint8Array;
}

export interface SignedNote {
  readonly text: string;
  readonly signatures: readonly SignatureLine[];
}

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
}

/** key ID = SHA-256(name || 0x0A || type || key)[:4], big-endian (c2sp.org/signed-note). */
async function keyIdOf(name: string, publicKey: Uint8Array): Promise<number> {
  const digest = await sha256(concat(utf8(name), Uint8Array.of(0x0a, SIG_TYPE_ED25519), publicKey));
  return new DataView(digest.buffer).getUint32(0);
}

/** Parses a vkey and checks that its ID matches its key; undefined says the key is unusable. */
export async function parseLogKey(vkey: string): Promise<LogKey | undefined> {
  const match = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey);
  if (match === null) return undefined;
  const [, name = '', idHex = '', encoded = ''] = match;
  const material = fromBase64(encoded);
  if (material?.length !== 33 || material[0] !== SIG_TYPE_ED25519) return undefined;
  const publicKey = material.slice(1);
  const keyId = Number.parseInt(idHex, 16);
  return (await keyIdOf(name, publicKey)) === keyId ? { name, keyId, publicKey } : undefined;
}

/** Splits a signed note into its text and signature lines; undefined when malformed. */
export function parseSignedNote(note: string): SignedNote | undefined {
  if (note.length > MAX_NOTE || !note.endsWith('\n')) return undefined;
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return undefined;
  const text = note.slice(0, split + 1);
  const signatures: SignatureLine[] = [];
  for (const line of note.slice(split + 2, -1).split('\n')) {
    const match = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    const bytes = match === null ? undefined : fromBase64(match[2] ?? '');
    if (match === null || bytes === undefined || bytes.length < 5) return undefined;
    const keyId = new DataView(bytes.buffer).getUint32(0);
    signatures.push({ name: match[1] ?? '', keyId, signature: bytes.slice(4) });
  }
  return signatures.length === 0 ? undefined : { text, signatures };
}

/** True when the note carries a valid signature by `key` over its text. */
export async function noteSignedBy(note: SignedNote, key: LogKey): Promise<boolean> {
  const mine = note.signatures.filter((line) => line.name === key.name && line.keyId === key.keyId);
  for (const line of mine) {
    if (await verifyEd25519(key.publicKey, utf8(note.text), line.signature)) return true;
  }
  return false;
}

/** c2sp.org/tlog-checkpoint body: origin, decimal size, base64 root, optional extension lines. */
export function parseCheckpoint(text: string): Checkpoint | undefined {
  const [origin, sizeLine = '', rootLine = ''] = text.slice(0, -1).split('\n');
  if (origin === undefined || origin === '' || !/^(0|[1-9][0-9]*)$/.test(sizeLine)) return undefined;
  const size = Number(sizeLine);
  const root = fromBase64(rootLine);
  if (!Number.isSafeInteger(size) || root?.length !== 32) return undefined;
  return { origin, size, root };
}
