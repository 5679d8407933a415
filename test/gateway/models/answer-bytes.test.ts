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

  it('streams events straight to the socket: event-stream headers at once, every event, the receipt before the end', async () => {
    const before = gw.gateway.services.log.size;
    const answer = await call('/v1/chat/completions', {
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 8,
      stream: true,
    });
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toBe('text/event-stream');
    expect(answer.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.headers['x-hono-already-sent']).toBeUndefined();
    const text = await answer.body.text();
    const events = text.split('\n\n').filter((event) => event.startsWith('data: '));
    expect(events.at(-1)).toBe('data: [DONE]');
    const content = events
      .slice(0, -1)
      .map(
        (event) => JSON.parse(event.slice('data: '.length)) as { choices: { delta: { content?: string } }[] },
      )
      .map((chunk) => chunk.choices[0]?.delta.content ?? '')
      .join('');
    expect(content).toBe(
      'The gateway relayed this answer from the stand-in provider.'.slice(0, content.length),
    );
    expect(content.length).toBeGreaterThan(0);
    // The last event left only once the call's receipt was in the log.
    expect(gw.gateway.services.log.size).toBe(before + 1);
    const receipt = await receiptAt<{ outcome: string; stream: boolean }>(gw, before);
    expect(receipt.predicate).toMatchObject({ outcome: 'ok', stream: true });
  });

  it('a client that leaves mid-stream: the call still gets exactly one receipt and the gateway serves on', async () => {
    const before = gw.gateway.services.log.size;
    provider.queue('ignore-max-tokens');
    const controller = new AbortController();
    const answer = await request(new URL('/v1/chat/completions', gw.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({
        model: 'gpt-test',
        messages: [{ role: 'user', content: 'hello' }],
        max_tokens: 1000,
        stream: true,
      }),
      signal: controller.signal,
    });
    const chunks = answer.body[Symbol.asyncIterator]();
    await chunks.next();
    controller.abort();
    await chunks.next().catch(() => undefined);
    await expect.poll(() => gw.gateway.services.log.size, { timeout: 10_000 }).toBe(before + 1);
    const receipt = await receiptAt<{ outcome: string; stream: boolean }>(gw, before);
    expect(receipt.predicate.stream).toBe(true);
    expect(['ok', 'cut', 'failed']).toContain(receipt.predicate.outcome);
    const next = await call('/v1/chat/completions', {
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'again' }],
      max_tokens: 4,
    });
    expect(next.statusCode).toBe(200);
    await next.body.dump();
    expect(gw.gateway.services.log.size).toBe(before + 2);
  });
});
