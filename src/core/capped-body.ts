/**
 * A fetch answer's body from a peer OACP does not control (another gateway,
 * an A2A agent), read no further than `maxBytes`: such a peer can stream
 * without end, and `response.text()` or `.json()` would hold all of it.
 * Undefined when the body is longer; the rest is then cancelled.
 */
export async function readCappedBody(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<Buffer | undefined> {
  const reader = body?.getReader();
  if (reader === undefined) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks, total);
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
}

/**
 * A fetch whose answers' bodies end in an error once longer than `maxBytes`: for a library (the A2A
 * SDK's transport) that reads a peer's answer with `.json()` or as a stream, which a peer streaming
 * without end would otherwise grow until the process ran out of memory. The rest is cancelled.
 */
export function cappedFetch(fetchImpl: typeof fetch, maxBytes: number): typeof fetch {
  return async (input, init) => {
    const response = await fetchImpl(input, init);
    const body = response.body;
    if (body === null) return response;
    const reader = body.getReader();
    let total = 0;
    const capped = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        total += value.length;
        if (total > maxBytes) {
          await reader.cancel().catch(() => undefined);
          return controller.error(new Error(`the answer is longer than ${maxBytes} bytes`));
        }
        controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    });
    return new Response(capped, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}
