import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/core/digest.js';
import { canonicalize } from '../../../src/core/jcs.js';
import { startGateway, type TestGateway } from '../service/harness.js';
import { modelAgent, modelsConfig, putProviderKey, receiptAt } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

interface Predicate {
  readonly outcome: string;
  readonly responseDigest: string;
  readonly usage: { inputTokens: number; outputTokens: number };
}

/**
 * OpenAI's stream sends its usage chunk (no choices) only to a client that set
 * `stream_options.include_usage`. The gateway always asks the provider for it, to count, and
 * passed it on to every client: one that reads `choices[0]` of each chunk (as the spec lets it)
 * met a chunk with none. Usage is still counted and receipted either way.
 */
describe('the usage chunk of an OpenAI stream', () => {
  let provider: StandIn;
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    provider = await startStandIn('usage');
    gw = await startGateway({
      config: modelsConfig({
        providers: [{ name: 'usage', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
      }),
    });
    key = (await modelAgent(gw, 'streamer', ['*'])).key;
    await putProviderKey(gw, 'usage', 'sk-usage-provider-key-0123456789');
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await provider?.close();
  });

  const stream = async (streamOptions?: Record<string, unknown>) => {
    const answer = await request(new URL('/v1/chat/completions', gw.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({
        model: 'gpt-test',
        stream: true,
        ...(streamOptions === undefined ? {} : { stream_options: streamOptions }),
        messages: [{ role: 'user', content: 'count me' }],
        max_tokens: 16,
      }),
    });
    const text = await answer.body.text();
    const data = text
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => line.slice('data: '.length))
      .map((value) => (value === '[DONE]' ? value : JSON.parse(value)));
    // A stream's receipt is written before its last event: the newest entry of the log.
    const receipt = await receiptAt<Predicate>(gw, gw.gateway.services.log.size - 1);
    return { data, receipt: receipt.predicate };
  };

  const usageChunks = (data: unknown[]) =>
    data.filter(
      (chunk) =>
        typeof chunk === 'object' &&
        chunk !== null &&
        Array.isArray((chunk as { choices?: unknown }).choices) &&
        (chunk as { choices: unknown[] }).choices.length === 0,
    );

  it('attack: a client that did not ask (include_usage absent or false) gets no chunk without choices; usage still receipted; the digest is of what it got', async () => {
    for (const options of [undefined, { include_usage: false }]) {
      const { data, receipt } = await stream(options);
      expect(usageChunks(data)).toEqual([]);
      expect(data.at(-1)).toBe('[DONE]');
      expect(receipt.outcome).toBe('ok');
      expect(receipt.usage.outputTokens).toBeGreaterThan(0);
      expect(receipt.responseDigest).toBe(sha256Hex(canonicalize(data)));
    }
    // A client that reads choices[0] of every chunk (the official SDK's own loop) gets through.
    const openai = new OpenAI({ apiKey: key, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
    const chunks = await openai.chat.completions.create({
      model: 'gpt-test',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let text = '';
    for await (const chunk of chunks) text += chunk.choices[0]?.delta.content ?? '';
    expect(text.length).toBeGreaterThan(0);
  });

  it('a client that asked (include_usage: true) gets it, with the usage', async () => {
    const { data, receipt } = await stream({ include_usage: true });
    expect(usageChunks(data)).toHaveLength(1);
    expect(usageChunks(data)[0]).toMatchObject({ usage: { completion_tokens: receipt.usage.outputTokens } });
    expect(receipt.responseDigest).toBe(sha256Hex(canonicalize(data)));
  });
});
