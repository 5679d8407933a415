import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../service/harness.js';
import { modelAgent, modelsConfig, putProviderKey, receiptAt } from './model-fixture.js';

const LIMIT = 32 * 1024 * 1024;
/** One chunk with no text in it (an empty delta) and 256 KiB of a member nothing counts. */
const CHUNK = `data: ${JSON.stringify({
  id: 's',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'gpt-test',
  choices: [{ index: 0, delta: {}, finish_reason: null }],
  pad: 'x'.repeat(256 * 1024),
})}\n\n`;

/**
 * A hostile provider that answers a stream with chunks carrying no text, without end. They count
 * no output tokens, so the budget never cut the stream; a whole answer is read to 32 MiB at most,
 * but a stream was read without bound while the gateway kept its events (to digest, or held back
 * past the cap) until it ran out of memory. Issue 14 (docs/model-gateway.md, "Budgets").
 */
describe('a provider that streams without end', () => {
  let provider: Server;
  let sent = 0;
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    provider = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let open = true;
      res.on('close', () => {
        open = false;
      });
      const pump = () => {
        while (open && res.write(CHUNK)) sent += CHUNK.length;
        if (open) res.once('drain', pump);
      };
      pump();
    });
    await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
    const { port } = provider.address() as AddressInfo;
    gw = await startGateway({
      config: modelsConfig({
        providers: [
          { name: 'endless', kind: 'openai', base_url: `http://127.0.0.1:${port}/v1`, max_retries: 0 },
        ],
      }),
    });
    key = (await modelAgent(gw, 'listener', ['*'])).key;
    await putProviderKey(gw, 'endless', 'sk-endless-0123456789');
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    provider?.closeAllConnections();
    await new Promise((resolve) => provider?.close(resolve));
  });

  it('attack: the stream ends failed past 32 MiB read, with an error the SDK raises and a receipt; the provider is let go', async () => {
    const client = new OpenAI({ apiKey: key, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'gpt-test',
      max_tokens: 20,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let chunks = 0;
    await expect(
      (async () => {
        for await (const _ of stream) chunks += 1;
      })(),
    ).rejects.toThrow(/larger than 33554432 bytes/);
    expect(chunks).toBeGreaterThan(0);
    expect(chunks).toBeLessThanOrEqual(LIMIT / (256 * 1024));
    const receipt = await receiptAt<{ outcome: string; reason?: string }>(
      gw,
      gw.gateway.services.log.size - 1,
    );
    expect(receipt.predicate.outcome).toBe('failed');
    expect(receipt.predicate.reason).toMatch(/larger than 33554432 bytes/);
    // The provider's connection was closed: it stops writing soon after the limit.
    const after = sent;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sent - after).toBeLessThan(8 * 1024 * 1024);
  }, 60_000);
});
