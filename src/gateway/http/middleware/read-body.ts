import type { IncomingMessage } from 'node:http';
import type { BodyBytes } from '../../../core/body-bytes.js';
import { JsonNesting, tooDeep } from '../../../core/bounded-json.js';
import { OacpError } from '../../../core/errors.js';
import { httpError } from '../errors.js';

export interface BodyLimits {
  /** Largest body, in bytes. */
  readonly maxBytes: number;
  /** Deepest JSON nesting (every body the gateway takes is JSON, the A2A routes' included). */
  readonly maxDepth: number;
  /** Bytes of bodies being read at once over every connection (the listener's one budget). */
  readonly held?: BodyBytes;
}

/**
 * The refusal of a body nested deeper than the limit (400 BAD_REQUEST): its own class, so a mount
 * that answers in another protocol (A2A's JSON-RPC) can recognise it and refuse in its own words.
 */
export class BodyTooDeepError extends OacpError<'BAD_REQUEST'> {
  constructor(readonly maxDepth: number) {
    super('BAD_REQUEST', tooDeep('the request body', maxDepth));
    this.name = 'BodyTooDeepError';
  }
}

export function tooLarge(maxBytes: number) {
  return httpError('PAYLOAD_TOO_LARGE', `request bodies are limited to ${maxBytes} bytes`);
}

/**
 * Why a body was refused unread for its size or its nesting, the refusals a mount may answer in
 * its own protocol; undefined for any other error (a busy listener, a broken connection).
 */
export function unreadBodyReason(error: unknown): string | undefined {
  if (error instanceof BodyTooDeepError) return error.message;
  return error instanceof OacpError && error.code === 'PAYLOAD_TOO_LARGE' ? error.message : undefined;
}

/** The refusal when bodies being read already hold the listener's budget (503, Retry-After 5). */
export function bodiesBusy(limit: number) {
  return httpError(
    'BODIES_BUSY',
    `the gateway reads at most ${limit} bytes of request bodies at once, and other requests hold them now; retry`,
  );
}

interface Meter {
  /** The refusal at the first byte over a limit, else undefined. */
  feed(chunk: Uint8Array): Error | undefined;
  /** Gives back what this body took of the listener's budget (read whole, refused or gone). */
  release(): void;
}

/** Counts bytes and JSON nesting of a body as it arrives, and its share of the listener's budget. */
function meter(limits: BodyLimits): Meter {
  const nesting = new JsonNesting();
  let seen = 0;
  let taken = 0;
  return {
    feed(chunk) {
      seen += chunk.byteLength;
      if (seen > limits.maxBytes) return tooLarge(limits.maxBytes);
      if (limits.held !== undefined) {
        if (!limits.held.take(chunk.byteLength)) return bodiesBusy(limits.held.limit);
        taken += chunk.byteLength;
      }
      if (nesting.feed(chunk) > limits.maxDepth) return new BodyTooDeepError(limits.maxDepth);
      return undefined;
    },
    release() {
      limits.held?.give(taken);
      taken = 0;
    },
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
      check.release();
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onGone);
      incoming.off('close', onGone);
    };
    const onData = (chunk: Buffer) => {
      const refusal = check.feed(chunk);
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
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return Buffer.concat(chunks);
      const refusal = check.feed(value);
      if (refusal !== undefined) {
        await reader.cancel().catch(() => undefined);
        throw refusal;
      }
      chunks.push(value);
    }
  } finally {
    check.release();
  }
}
