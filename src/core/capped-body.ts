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
