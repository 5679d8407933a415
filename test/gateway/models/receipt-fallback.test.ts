import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startGateway, type TestGateway } from '../service/harness.js';
import {
  anthropicMessage,
  modelAgent,
  modelsConfig,
  oneProvider,
  putProviderKey,
  receiptAt,
} from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const MAX = Number.MAX_SAFE_INTEGER;
const PROVIDER_KEY = 'sk-hostile-provider-secret-0123456789';

/**
 * Issue 10: every effect one true receipt. A provider that answered has had the call; when the
 * call's full receipt cannot be built from what it said, the gateway still records one (failed,
 * with the reason) in-process, and the agent gets an answer naming it, never a bare 500.
 */
describe('a model call whose receipt cannot be built from the answer', () => {
  let provider: StandIn;
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    provider = await startStandIn('hostile');
    gw = await startGateway({
      config: modelsConfig({
        providers: [{ name: 'hostile', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
      }),
    });
    key = (await modelAgent(gw, 'counted', ['*'])).key;
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await provider?.close();
  });

  const call = (body: unknown) =>
    request(new URL('/v1/chat/completions', gw.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('usage counts near 2^53 (each safe, their sum not): not believed, the reservation is charged, one receipt', async () => {
    provider.queue({
      rawAnswer: `{"id":"x","object":"chat.completion","created":1,"model":"gpt-test","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":${MAX},"completion_tokens":${MAX}}}`,
    });
    const before = gw.gateway.services.log.size;
    const answer = await call({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 8,
    });
    await answer.body.text();
    expect(answer.statusCode).toBe(200);
    const receipt = await receiptAt<{ outcome: string; usage: Record<string, number> }>(
      gw,
      Number(answer.headers['oacp-receipt']),
    );
    expect(receipt.verified).toBe(true);
    expect(receipt.predicate.outcome).toBe('ok');
    expect(receipt.predicate.usage.chargedTokens).toBe(receipt.predicate.usage.reservedTokens);
    expect(receipt.predicate.usage.chargedTokens).toBeLessThan(1000);
    expect(gw.gateway.services.log.size).toBe(before + 1);
  });

  it('the clock steps back while the provider has the call: a failed receipt written in-process, a 502 naming it, not a 500', async () => {
    provider.queue('slow');
    const before = gw.gateway.services.log.size;
    const sent = provider.received.length;
    const pending = call({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 });
    // The step must come while the provider has the call (it answers 1.5 s after): not a fixed wait,
    // which a loaded host can spend before the call has even left the gateway.
    await expect.poll(() => provider.received.length).toBeGreaterThan(sent);
    // As an NTP step would: the call finishes an hour before it started.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 3_600_000 });
    const answer = await pending;
    const body = (await answer.body.json()) as { error: { message: string } };
    vi.useRealTimers();
    expect(answer.statusCode).toBe(502);
    expect(body.error.message).toContain("the call's receipt could not be built");
    const receipt = await receiptAt<{
      outcome: string;
      reason: string;
      startedAt: string;
      finishedAt: string;
      usage: Record<string, number>;
    }>(gw, Number(answer.headers['oacp-receipt']));
    expect(receipt.verified).toBe(true);
    expect(receipt.predicate.outcome).toBe('failed');
    expect(receipt.predicate.reason).toContain('finishedAt');
    expect(receipt.predicate.finishedAt).toBe(receipt.predicate.startedAt);
    expect(gw.gateway.services.log.size).toBe(before + 1);
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])(
    'attack: model %j (an Object.prototype member, not an alias or a price) is routed as any other name, not a 500',
    async (model) => {
      const before = gw.gateway.services.log.size;
      const answer = await call({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 });
      const text = await answer.body.text();
      expect(answer.statusCode).toBe(200);
      expect(text).not.toContain('flatMap');
      const receipt = await receiptAt<{ outcome: string; model: { requested: string }; costUsd?: number }>(
        gw,
        Number(answer.headers['oacp-receipt']),
      );
      expect(receipt.verified).toBe(true);
      expect(receipt.predicate).toMatchObject({ outcome: 'ok', model: { requested: model } });
      expect(receipt.predicate.costUsd).toBeUndefined();
      expect(gw.gateway.services.log.size).toBe(before + 1);
    },
  );

  it('attack: a provider answers 200 with an error body quoting its key: a 502, its key redacted, a failed receipt', async () => {
    await putProviderKey(gw, 'hostile', PROVIDER_KEY);
    provider.queue({
      rawAnswer: `{"error":{"message":"Incorrect API key provided: Bearer ${PROVIDER_KEY}","type":"invalid_request_error"}}`,
    });
    const before = gw.gateway.services.log.size;
    const answer = await call({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 8,
    });
    const text = await answer.body.text();
    expect(answer.statusCode).toBe(502);
    expect(text).not.toContain(PROVIDER_KEY);
    expect(text).toContain('Incorrect API key provided');
    const receipt = await receiptAt<{ outcome: string; reason?: string }>(
      gw,
      Number(answer.headers['oacp-receipt']),
    );
    expect(receipt.verified).toBe(true);
    expect(receipt.predicate.outcome).toBe('failed');
    expect(receipt.predicate.reason).toContain('HTTP 200 with an error body');
    expect(JSON.stringify(receipt.predicate)).not.toContain(PROVIDER_KEY);
    expect(gw.gateway.services.log.size).toBe(before + 1);
  });

  it('attack: a stream whose provider sends an error event quoting its key: the key never reaches the agent, a failed receipt', async () => {
    await putProviderKey(gw, 'hostile', PROVIDER_KEY);
    provider.queue({
      rawStream: `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-test","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\ndata: {"error":{"message":"Incorrect API key provided: Bearer ${PROVIDER_KEY}","type":"invalid_request_error"}}\n\ndata: [DONE]\n\n`,
    });
    const before = gw.gateway.services.log.size;
    const answer = await call({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 8,
      stream: true,
    });
    const text = await answer.body.text();
    expect(answer.statusCode).toBe(200);
    expect(text).not.toContain(PROVIDER_KEY);
    expect(text).toContain('Incorrect API key provided');
    const index = gw.gateway.services.log.size - 1;
    expect(index).toBe(before);
    const receipt = await receiptAt<{ outcome: string; reason?: string }>(gw, index);
    expect(receipt.predicate.outcome).toBe('failed');
    expect(receipt.predicate.reason).toContain('error event');
    expect(JSON.stringify(receipt.predicate)).not.toContain(PROVIDER_KEY);
  });

  it('the fallback receipt keeps what the gateway settled: toolFees, serviceTier and usage.notReported', async () => {
    const search = 'web_search_20250305';
    const one = await oneProvider('fallback-fees', {
      providerTools: ['web_search_*'],
      models: {
        prices: {
          'claude-test': {
            input_per_mtok: 1,
            output_per_mtok: 2,
            per_use_usd: { [search]: 0.01 },
            service_tiers: { priority: 2 },
          },
        },
        budgets: { cost_per_day_usd: 10 },
      },
    });
    try {
      // An answer with no usage (both counts not reported, the searches charged at max_uses), the
      // clock stepping back an hour while the provider has the call: the receipt cannot be built.
      one.claude.queue({ rawAnswer: anthropicMessage({}).replace(',"usage":{}', ''), delayMs: 1000 });
      const sent = one.claude.received.length;
      const pending = request(new URL('/v1/messages', one.gw.url), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-api-key': one.key,
          'anthropic-version': '2023-06-01',
        },
        body: JSON.stringify({
          model: 'claude-test',
          max_tokens: 20,
          service_tier: 'auto',
          tools: [{ type: search, name: 'web_search', max_uses: 3 }],
          messages: [{ role: 'user', content: 'search' }],
        }),
      });
      await expect.poll(() => one.claude.received.length).toBeGreaterThan(sent);
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 3_600_000 });
      const answer = await pending;
      await answer.body.text();
      vi.useRealTimers();
      expect(answer.statusCode).toBe(502);
      const receipt = await receiptAt<{
        outcome: string;
        reason: string;
        usage: { notReported?: string[] };
        toolFees?: unknown;
        serviceTier?: unknown;
      }>(one.gw, Number(answer.headers['oacp-receipt']));
      expect(receipt.verified).toBe(true);
      expect(receipt.predicate.outcome).toBe('failed');
      expect(receipt.predicate.reason).toContain("the call's receipt could not be built");
      expect(receipt.predicate.usage.notReported).toEqual(['inputTokens', 'outputTokens']);
      expect(receipt.predicate.toolFees).toEqual([{ type: search, maxUses: 3, uses: 3, basis: 'maximum' }]);
      expect(receipt.predicate.serviceTier).toEqual({ requested: 'auto', multiplier: 2 });
    } finally {
      vi.useRealTimers();
      await one.close();
    }
  }, 60_000);
});
