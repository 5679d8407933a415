import { createHash } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalize } from '../../../src/core/jcs.js';
import { startGateway, type TestGateway } from '../service/harness.js';
import { modelAgent, modelsConfig, receiptAt } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * How a whole model answer is written (docs/model-gateway.md, "Performance"):
 * the provider's JSON text is passed on as it came when nothing rewrites it,
 * written straight to the socket with the headers every gateway answer has,
 * and the receipt digests exactly what the agent received.
 */
describe('a whole model answer as written on the wire', () => {
  let provider: StandIn;
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    provider = await startStandIn('bytes');
    gw = await startGateway({
      config: modelsConfig({
        providers: [{ name: 'bytes', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
        aliases: { 'claude-alias': { model: 'gpt-test', providers: ['bytes'] } },
      }),
    });
    key = (await modelAgent(gw, 'writer', ['*'])).key;
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await provider?.close();
  });

  const call = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    request(new URL(path, gw.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
      body: JSON.stringify(body),
    });

  it("passes the provider's bytes on unchanged, with length, request id and receipt headers, and digests them", async () => {
    provider.queue('pretty');
    const answer = await call('/v1/chat/completions', {
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 8,
    });
    const text = await answer.body.text();
    expect(answer.statusCode).toBe(200);
    // Indented as the provider sent it: a gateway that parsed and re-serialised would have lost this.
    expect(text).toContain('\n  "object": "chat.completion",\n');
    expect(answer.headers['content-length']).toBe(String(Buffer.byteLength(text)));
    expect(answer.headers['content-type']).toBe('application/json');
    expect(answer.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.headers['x-hono-already-sent']).toBeUndefined();
    const receipt = await receiptAt<{ outcome: string; responseDigest: string }>(
      gw,
      Number(answer.headers['oacp-receipt']),
    );
    expect(receipt.verified).toBe(true);
    expect(receipt.predicate.outcome).toBe('ok');
    expect(receipt.predicate.responseDigest).toBe(sha256(canonicalize(JSON.parse(text))));
  });

  it('writes a refusal the same way (status, error body, receipt)', async () => {
    const answer = await call('/v1/chat/completions', { model: '', messages: [] });
    const body = (await answer.body.json()) as { error: { message: string } };
    expect(answer.statusCode).toBe(400);
    expect(body.error.message).toContain('`model` must be a non-empty string');
    expect(answer.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(answer.headers['oacp-receipt'])).toBeGreaterThanOrEqual(0);
  });

  it('serialises an answer it translated (Anthropic client, OpenAI provider): valid JSON of the client format', async () => {
    provider.queue('pretty');
    const answer = await call(
      '/v1/messages',
      { model: 'claude-alias', max_tokens: 8, messages: [{ role: 'user', content: 'hello' }] },
      { 'anthropic-version': '2023-06-01' },
    );
    const text = await answer.body.text();
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ type: 'message', role: 'assistant' });
    expect(text).not.toContain('\n');
    const receipt = await receiptAt<{ responseDigest: string }>(gw, Number(answer.headers['oacp-receipt']));
    expect(receipt.predicate.responseDigest).toBe(sha256(canonicalize(JSON.parse(text))));
  });
});
