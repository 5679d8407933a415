import { createHash, type Hash } from 'node:crypto';

/**
 * A client message refused before it could be parsed whole (a line over the
 * size cap, a number JSON cannot carry): what its receipt can truthfully say.
 * Its arguments have no JCS digest, so the receipt digests the bytes that came
 * instead (docs/receipts.md, "unread messages").
 */
export interface UnreadMessage {
  /** Its top-level method, where it could be read; else the message is answered, not recorded. */
  readonly method: string | undefined;
  /** SHA-256 (hex) of the line as received, decoded as UTF-8. */
  readonly sha256: string;
  /** Its length in bytes (UTF-8). */
  readonly bytes: number;
  /**
   * Set when it went on past `bytes` and the rest was never read (an HTTP body
   * over its limit): `sha256` and `bytes` then name its first bytes as received.
   */
  readonly cut?: true;
}

/** The key under which a receipt's `arguments` name the unread message (see UnreadMessage). */
export const UNREAD_PARAMS_KEY = 'oacp/unread';

/** What an unread message's receipt digests as its arguments. */
export function unreadParams(unread: UnreadMessage): Record<string, unknown> {
  const named = { sha256: unread.sha256, bytes: unread.bytes };
  return { [UNREAD_PARAMS_KEY]: unread.cut === true ? { ...named, cut: true } : named };
}

const STRING = String.raw`"(?:[^"\\]|\\.){0,256}"`;
const MEMBER = String.raw`"(?:jsonrpc|id)"\s*:\s*(?:${STRING}|-?\d+|null)\s*,\s*`;
const METHOD_FIRST = new RegExp(String.raw`^\s*\{\s*(?:${MEMBER}){0,2}"method"\s*:\s*(${STRING})`);
const METHOD_LAST = new RegExp(String.raw`,\s*"method"\s*:\s*(${STRING})\s*\}\s*\r?$`);

/**
 * The top-level method of a message too long to parse, where it stands first
 * (after `jsonrpc` and `id`) or last in the object, as JSON-RPC writers put it.
 * Anchored at the object's own braces, so a "method" inside params cannot match.
 */
export function methodOfUnread(head: string, tail: string): string | undefined {
  const found = METHOD_FIRST.exec(head)?.[1] ?? METHOD_LAST.exec(tail)?.[1];
  if (found === undefined) return undefined;
  try {
    const method = JSON.parse(found) as unknown;
    return typeof method === 'string' && method !== '' ? method : undefined;
  } catch {
    return undefined;
  }
}

/** Hashes and counts a message as it streams past in pieces (linear in its length). */
export class UnreadDigest {
  readonly #hash: Hash = createHash('sha256');
  #bytes = 0;

  add(piece: string): void {
    if (piece === '') return;
    const bytes = Buffer.from(piece, 'utf8');
    this.#hash.update(bytes);
    this.#bytes += bytes.length;
  }

  finish(method: string | undefined): UnreadMessage {
    return { method, sha256: this.#hash.digest('hex'), bytes: this.#bytes };
  }
}

/** The same for a message at hand in one piece (a parsed line refused for its numbers). */
export function unreadMessage(line: string, method: string | undefined): UnreadMessage {
  const digest = new UnreadDigest();
  digest.add(line);
  return digest.finish(method);
}
