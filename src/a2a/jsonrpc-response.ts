import { formatSSEErrorEvent, formatSSEEvent, SSE_HEADERS } from '@a2a-js/sdk';
import { ANSWER_MAX, echoText, redact } from '../core/redact.js';
import type { JsonRpcId } from './request-schema.js';

/** A JSON-RPC error answer; its message (which may quote the caller) redacted and cut. */
export function rpcError(id: JsonRpcId, code: number, message: string) {
  return { jsonrpc: '2.0', id, error: { code, message: echoText(message, ANSWER_MAX) } };
}

/**
 * A JSON-RPC error the SDK made (an unsupported `A2A-Version`, an unknown task
 * id: it quotes them) as every OACP answer carries it: the message redacted
 * and cut, secret-shaped text masked in its data.
 */
export function echoRpcError(error: unknown): unknown {
  if (typeof error !== 'object' || error === null) return error;
  const { message, data, ...rest } = error as { message?: unknown; data?: unknown };
  return {
    ...rest,
    ...(typeof message === 'string' ? { message: echoText(message, ANSWER_MAX) } : {}),
    ...(data === undefined ? {} : { data: redact(data) }),
  };
}

/** `answer` (a JSON-RPC response) with its error, if any, as `echoRpcError`. */
export function echoRpcAnswer(answer: unknown): unknown {
  if (typeof answer !== 'object' || answer === null || !('error' in answer)) return answer;
  return { ...answer, error: echoRpcError((answer as { error: unknown }).error) };
}

export function idOf(body: unknown): JsonRpcId {
  const id = typeof body === 'object' && body !== null ? (body as { id?: unknown }).id : undefined;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/**
 * Server-sent events as the SDK's express adapter writes them: an error before
 * the first event is a plain JSON-RPC error answer, one after it an `error`
 * event that ends the stream.
 */
export async function sse(
  stream: AsyncIterable<unknown>,
  id: JsonRpcId,
  mapError: (error: unknown) => unknown,
  headers: Record<string, string>,
): Promise<Response> {
  const iterator = stream[Symbol.asyncIterator]();
  let first: IteratorResult<unknown>;
  try {
    first = await iterator.next();
  } catch (error) {
    return Response.json({ jsonrpc: '2.0', id, error: mapError(error) }, { headers });
  }
  const encoder = new TextEncoder();
  let pending: IteratorResult<unknown> | undefined = first;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = pending ?? (await iterator.next());
        pending = undefined;
        if (next.done === true) controller.close();
        else controller.enqueue(encoder.encode(formatSSEEvent(next.value)));
      } catch (error) {
        controller.enqueue(
          encoder.encode(formatSSEErrorEvent({ jsonrpc: '2.0', id, error: mapError(error) })),
        );
        controller.close();
      }
    },
    async cancel() {
      await iterator.return?.(undefined);
    },
  });
  // Not the SDK's `Connection: keep-alive`: it made Node keep a socket whose client asked
  // `Connection: close`. HTTP/1.1 persists by default; Node decides.
  const { Connection: _hop, ...sseHeaders } = SSE_HEADERS;
  return new Response(body, { headers: { ...sseHeaders, ...headers } });
}
