import { createHash } from 'node:crypto';
import type { JsonRpcId } from './jsonrpc.js';
import { idOfOversized } from './line-transport.js';
import { methodOfUnread, type UnreadMessage, unreadMessage } from './unread-message.js';

/** One message of a POST body refused before it could be parsed whole, as the session records it. */
export interface UnreadRefusal {
  /** Its id where it has one a client could match; null for a notification or an unreadable id. */
  readonly id: JsonRpcId | null;
  readonly unread: UnreadMessage;
}

/**
 * The messages of a body JSON parsed but the bridge cannot take as it stands
 * (a number no double can hold, so it has no JCS digest): each with its id and
 * method where they are its own top-level members, and the digest of the whole
 * body as received, the bytes a receipt can name (docs/receipts.md). A batch
 * gives one per element, each naming the same body.
 */
export function unreadRefusals(body: string, value: unknown): UnreadRefusal[] {
  const digest = unreadMessage(body, undefined);
  const one = (message: unknown): UnreadRefusal => {
    const { id, method } = (
      typeof message === 'object' && message !== null && !Array.isArray(message) ? message : {}
    ) as { id?: unknown; method?: unknown };
    return {
      id: typeof id === 'string' || typeof id === 'number' ? id : null,
      unread: { ...digest, method: typeof method === 'string' && method !== '' ? method : undefined },
    };
  };
  return Array.isArray(value) ? value.map(one) : [one(value)];
}

/** How much of a cut body's start is searched for its id and method (as a stdio line's). */
const HEAD_BYTES = 4096;

/**
 * A body cut off at the size limit, the rest never read: its id and method
 * where they stand first in the object (as JSON-RPC writers put them), and the
 * digest of the bytes read, marked `cut` (docs/receipts.md). A batch (`[`) has
 * neither, so it is answered, not recorded.
 */
export function cutRefusal(prefix: Buffer): UnreadRefusal {
  const head = prefix.subarray(0, HEAD_BYTES).toString('utf8');
  return {
    id: idOfOversized(head, ''),
    unread: {
      method: methodOfUnread(head, ''),
      sha256: createHash('sha256').update(prefix).digest('hex'),
      bytes: prefix.length,
      cut: true,
    },
  };
}
