import { describe, expect, it } from 'vitest';
import { MANIFEST } from '../service/harness.js';
import { useGateway } from '../service/use-gateway.js';

/** Reads SSE frames from `response` into `frames` until the stream ends. */
function collect(response: Response, frames: string[]): Promise<void> {
  return (async () => {
    const reader = (response.body as ReadableStream<Uint8Array>)
      .pipeThrough(new TextDecoderStream())
      .getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += value;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        frames.push(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  })();
}

const until = async (check: () => boolean) => {
  for (let tries = 0; tries < 200 && !check(); tries++) await new Promise((r) => setTimeout(r, 50));
};

/**
 * `GET /v1/receipts/stream` was authenticated once, when it opened: a key revoked afterwards
 * kept receiving every receipt of the log for as long as its connection lasted.
 */
describe('a receipt stream whose API key is revoked while it is open', () => {
  const gw = useGateway();

  it('attack: revoke the key of an open stream, then a tool call is recorded: the stream says why and ends, without that receipt', async () => {
    const created = await gw.gateway.apiKeys.create({ scopes: ['audit:read'], label: 'soon revoked' });
    const agent = await gw.client.createAgent({ name: 'streamed', manifest: MANIFEST });
    const abort = new AbortController();
    const response = await fetch(new URL('/v1/receipts/stream', gw.url), {
      headers: { authorization: `Bearer ${created.key}` },
      signal: abort.signal,
    });
    expect(response.status).toBe(200);
    const frames: string[] = [];
    const ended = collect(response, frames);
    try {
      const receipts = () => frames.filter((frame) => frame.includes('event: receipt'));
      const before = await gw.client.callTool('echo', { text: 'seen' }, { agent: agent.id });
      await until(() => receipts().length === 1);
      expect(receipts()[0]).toContain(`id: ${before.receipt.index}`);

      expect(await gw.gateway.apiKeys.revoke(created.id)).toBe(true);
      // Past the stream's confirmation interval (1 s): the next receipt finds the key revoked.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const after = await gw.client.callTool('echo', { text: 'not for a revoked key' }, { agent: agent.id });
      // Bounded: a stream that never ends (as before) fails on what it sent, not on the test's timeout.
      await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      expect(receipts().map((frame) => /^id: (\d+)$/m.exec(frame)?.[1])).toEqual([
        String(before.receipt.index),
      ]);
      expect(frames.join('\n')).not.toContain(`id: ${after.receipt.index}`);
      const error = frames.find((frame) => frame.includes('event: error')) ?? '';
      expect(error).toContain('UNAUTHENTICATED');
      expect(error).toContain(`API key ${created.id} was revoked`);
      expect(error).not.toContain(created.key);
      // The gateway serves on.
      expect((await fetch(new URL('/healthz', gw.url))).status).toBe(200);
    } finally {
      abort.abort();
    }
  }, 60_000);
});
