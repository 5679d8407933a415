import type { IncomingMessage } from 'node:http';
import { JsonNesting, tooDeep } from '../../../core/bounded-json.js';
import { httpError } from '../errors.js';

export interface BodyLimits {
  /** Largest body, in bytes. */
  readonly maxBytes: number;
  /** Deepest JSON nesting (every body the gateway takes is JSON, the A2A routes' included). */
  readonly maxDepth: number;
}

export function tooLarge(maxBytes: number) {
  return httpError('PAYLOAD_TOO_LARGE', `request bodies are limited to ${maxBytes} bytes`);
}

/** Counts bytes and JSON nesting of a body as it arrives; the refusal at the first byte over a limit. */
function meter(limits: BodyLimits): (chunk: Uint8Array) => Error | undefined {
  const nesting = new JsonNesting();
  let seen = 0;
  return (chunk) => {
    seen += chunk.byteLength;
    if (seen > limits.maxBytes) return tooLarge(limits.maxBytes);
    if (nesting.feed(chunk) > limits.maxDepth) {
      return httpError('BAD_REQUEST', tooDeep('the request body', limits.maxDepth));
    }
    return undefined;
  };
}

/**
 * Reads a Node request body under the limits, straight from the socket's
 * stream (no web-stream copies). At a limit it stops keeping chunks and lets
 * the stream flow on, so what the client still sends is dropped while it
 * reads the answer (the HTTP server closes the connection soon after).
 */
export function readIncoming(incoming: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  const check = meter(limits);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const stop = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onGone);
      incoming.off('close', onGone);
    };
    const onData = (chunk: Buffer) => {
      const refusal = check(chunk);
      if (refusal === undefined) return void chunks.push(chunk);
      stop();
      incoming.resume();
      reject(refusal);
    };
    const onEnd = () => {
      stop();
      resolve(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks));
    };
    const onGone = () => {
      if (incoming.readableEnded) return onEnd();
      stop();
      reject(httpError('BAD_REQUEST', 'the request body ended before it was complete'));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onGone);
    incoming.on('close', onGone);
    if (incoming.readableEnded) onEnd();
  });
}

/** The same for a web stream (a Request handed to `app.fetch` without a Node server). */
export async function readWebStream(
  body: ReadableStream<Uint8Array>,
  limits: BodyLimits,
): Promise<Uint8Array> {
  const check = meter(limits);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    const refusal = check(value);
    if (refusal !== undefined) {
      await reader.cancel().catch(() => undefined);
      throw refusal;
    }
    chunks.push(value);
  }
}
