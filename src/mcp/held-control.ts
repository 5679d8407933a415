import type { JsonRpcId } from './jsonrpc.js';

/**
 * What a client's message read while the client is held (too much in flight, a server not reading)
 * is to the transport holding it: one the session must see to make progress passes at once (a
 * cancellation, which frees what it cancels; an answer to a server's request, which a call in
 * flight may wait on); anything else is held, in order, until the hold ends. `id`: the request
 * id a held message carries, so a cancellation read behind it can find it.
 */
export type HeldVerdict =
  | { readonly kind: 'pass' }
  | { readonly kind: 'cancel'; readonly requestId: JsonRpcId }
  | { readonly kind: 'hold'; readonly id?: JsonRpcId };

export function clientControl(message: unknown): HeldVerdict {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return { kind: 'hold' };
  const { id, method, params } = message as { id?: unknown; method?: unknown; params?: unknown };
  const hasId = typeof id === 'string' || typeof id === 'number';
  if (method === undefined && hasId && ('result' in message || 'error' in message)) return { kind: 'pass' };
  if (method === 'notifications/cancelled' && id === undefined) {
    const requestId = (params as { requestId?: unknown } | null | undefined)?.requestId;
    if (typeof requestId === 'string' || typeof requestId === 'number') return { kind: 'cancel', requestId };
  }
  return hasId ? { kind: 'hold', id } : { kind: 'hold' };
}
