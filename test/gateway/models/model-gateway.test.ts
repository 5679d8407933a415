import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raw, startGateway, type TestGateway } from '../service/harness.js';
import { modelsConfig, putProviderKey, receiptAt as receiptOf } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const PROVIDER_KEY = 'sk-standin-provider-secret-0123456789';

const manifest = (
  name: string,
  quotas: Record<string, number> = {},
  models = ['gpt-test', 'fast', 'claude-test', 'embed-test'],
) => ({
  apiVersion: 'oacp.dev/v1',
  kind: 'CapabilityManifest',
  name,
  capabilities: { models: { allow: models } },
  quotas: { memory_mb: 16, ...quotas },
});

interface Receipt {
  readonly predicate: Record<string, unknown> & {
    outcome: string;
    usage: Record<string, number>;
    attempts: unknown[];
  };
  readonly verified: boolean;
}

const receiptAt = (gw: TestGateway, index: number): Promise<Receipt> =>
  receiptOf<Receipt['predicate']>(gw, index);

/** The API error a call ends in; fails the test if the call succeeded. */
async function failure(
  call: Promise<unknown>,
): Promise<{ status: number | undefined; message: string; headers: Headers | undefined }> {
  try {
    await call;
  } catch (error) {
    const api = error as { status?: number; message: string; headers?: Headers };
    return { status: api.status, message: api.message, headers: api.headers };
  }
  throw new Error('the call succeeded, a refusal was expected');
}

function receiptIndex(headers: Headers | Record<string, string | undefined>): number {
  const value = headers instanceof Headers ? headers.get('oacp-receipt') : headers['oacp-receipt'];
  return Number(value);
}

describe('model gateway with the official OpenAI and Anthropic SDKs (stand-in providers)', () => {
  let primary: StandIn;
  let backup: StandIn;
  let claude: StandIn;
  let gw: TestGateway;
  let agentKey: string;
  let agentDid: string;

  beforeAll(async () => {
    primary = await startStandIn('primary');
    backup = await startStandIn('backup');
    claude = await startStandIn('claude');
    gw = await startGateway({
      config: modelsConfig({
        providers: [
          { name: 'primary', kind: 'openai', base_url: `${primary.url}/v1`, max_retries: 1 },
          { name: 'backup', kind: 'openai', base_url: `${backup.url}/v1`, max_retries: 0 },
          {
            name: 'claude',
            kind: 'anthropic',
            base_url: claude.url,
            max_retries: 0,
            models: ['claude-test'],
          },
        ],
        aliases: { fast: { model: 'gpt-upstream', providers: ['primary', 'backup'] } },
        prices: { 'gpt-test': { input_per_mtok: 1, output_per_mtok: 2 } },
        breaker: { failures: 3, cooldown_ms: 400 },
      }),
    });
    const agent = await gw.client.createAgent({ name: 'modeller', manifest: manifest('modeller') });
    agentDid = agent.id;
    agentKey = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: agentDid })).key;
    for (const provider of ['primary', 'backup']) await putProviderKey(gw, provider, PROVIDER_KEY);
    await putProviderKey(gw, 'claude', PROVIDER_KEY, 'x-api-key');
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await Promise.all([primary?.close(), backup?.close(), claude?.close()]);
  });

  const openai = () => new OpenAI({ apiKey: agentKey, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
  const anthropic = () =>
    new Anthropic({ apiKey: agentKey, baseURL: gw.url.href.replace(/\/$/, ''), maxRetries: 0 });

  it('answers a chat completion through the provider, injects the vault key upstream, and receipts it', async () => {
    const before = primary.received.length;
    const { data, response } = await openai()
      .chat.completions.create({
        model: 'gpt-test',
        messages: [{ role: 'user', content: 'Say hello' }],
        max_tokens: 64,
      })
      .withResponse();
    expect(data.choices[0]?.message.content).toContain('stand-in provider');
    expect(data.usage?.prompt_tokens).toBe(11);
    const sent = primary.received[before];
    expect(sent?.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(JSON.stringify(sent?.headers)).not.toContain(agentKey);
    const receipt = await receiptAt(gw, receiptIndex(response.headers));
    expect(receipt.verified).toBe(true);
    expect(receipt.predicate).toMatchObject({
      endpoint: 'chat.completions',
      provider: { name: 'primary', kind: 'openai' },
      model: { requested: 'gpt-test', served: 'gpt-test-served-by-primary' },
      outcome: 'ok',
      stream: false,
      usage: { inputTokens: 11, outputTokens: 10 },
      costUsd: (11 * 1 + 10 * 2) / 1e6,
    });
    expect(JSON.stringify(receipt.predicate)).not.toContain(PROVIDER_KEY);
    expect(JSON.stringify(receipt.predicate)).not.toContain('Say hello');
  });

  it('streams a chat completion with usage, and receipts the assembled stream', async () => {
    const stream = await openai().chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'Stream please' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('The gateway relayed this answer from the stand-in provider.');
    const index = gw.gateway.services.log.size - 1;
    const receipt = await receiptAt(gw, index);
    expect(receipt.predicate).toMatchObject({ endpoint: 'chat.completions', stream: true, outcome: 'ok' });
    expect(receipt.predicate.responseDigest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('answers Anthropic Messages, plain and streamed, with the key sent as x-api-key upstream', async () => {
    const message = await anthropic().messages.create({
      model: 'claude-test',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'Hello Claude' }],
    });
    expect(message.content[0]?.type === 'text' ? message.content[0].text : '').toContain('stand-in');
    expect(claude.received.at(-1)?.headers['x-api-key']).toBe(PROVIDER_KEY);
    const stream = anthropic().messages.stream({
      model: 'claude-test',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'Stream, Claude' }],
    });
    const final = await stream.finalMessage();
    expect(final.content[0]?.type === 'text' ? final.content[0].text : '').toContain('stand-in provider');
    const receipt = await receiptAt(gw, gw.gateway.services.log.size - 1);
    expect(receipt.predicate).toMatchObject({
      endpoint: 'messages',
      stream: true,
      outcome: 'ok',
      provider: { kind: 'anthropic' },
    });
    expect(receipt.verified).toBe(true);
  });

  it('lists models and embeds through the same gateway', async () => {
    const list = await openai().models.list();
    expect(list.data.map((m) => m.id)).toContain('fast');
    const embedding = await openai().embeddings.create({ model: 'gpt-test', input: 'vector me' });
    expect(embedding.data[0]?.embedding.map((x) => Math.round(x * 10) / 10)).toEqual([0.1, 0.2, 0.3]);
  });

  it('retries, then fails over to the next provider of an alias, listing every attempt in the receipt', async () => {
    primary.queue('500', '500');
    const { data, response } = await openai()
      .chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'failover' }] })
      .withResponse();
    expect(data.model).toBe('gpt-upstream-served-by-backup');
    const receipt = await receiptAt(gw, receiptIndex(response.headers));
    expect(receipt.predicate.attempts).toMatchObject([
      { provider: 'primary', status: 500 },
      { provider: 'primary', status: 500 },
      { provider: 'backup', status: 200 },
    ]);
  });

  it('opens the breaker after repeated failures, skips the provider at once, and closes it after a good probe', async () => {
    // A success first, so the count of consecutive failures starts at zero.
    const reset = await openai().chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'ok' }],
    });
    expect(reset.model).toBe('gpt-test-served-by-primary');
    primary.queue('500', '500', '500');
    // Two calls: 2 + 1 failures reach the threshold of 3; both served by the backup.
    await openai().chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'a' }] });
    await openai().chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'a2' }] });
    const before = primary.received.length;
    const { response } = await openai()
      .chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'b' }] })
      .withResponse();
    const receipt = await receiptAt(gw, receiptIndex(response.headers));
    expect(receipt.predicate.attempts).toContainEqual(
      expect.objectContaining({ provider: 'primary', status: 0, error: 'circuit breaker open' }),
    );
    expect(primary.received.length).toBe(before);
    const metrics = await raw(gw.url, '/metrics', { headers: { authorization: `Bearer ${gw.adminKey}` } });
    expect(metrics.text).toContain('oacp_llm_breaker_open{provider="primary"} 1');
    await new Promise((resolve) => setTimeout(resolve, 450));
    const probe = await openai().chat.completions.create({
      model: 'fast',
      messages: [{ role: 'user', content: 'probe' }],
    });
    expect(probe.model).toBe('gpt-upstream-served-by-primary');
  });

  it('refuses a model outside the manifest allowlist (403) and an operator key without an agent, with receipts', async () => {
    const denied = await openai()
      .chat.completions.create({ model: 'forbidden-model', messages: [{ role: 'user', content: 'x' }] })
      .catch((error: unknown) => error);
    expect(denied).toBeInstanceOf(OpenAI.APIError);
    expect((denied as InstanceType<typeof OpenAI.APIError>).status).toBe(403);
    const unknown = await failure(
      anthropic().messages.create({
        model: 'gpt-test-is-not-anthropic',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x' }],
      }),
    );
    expect(unknown.status).toBe(404);
    const agent = await gw.client.createAgent({
      name: 'narrow',
      manifest: manifest('narrow', {}, ['gpt-test']),
    });
    const key = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: agent.id })).key;
    const client = new OpenAI({ apiKey: key, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
    const refused = await failure(
      client.chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'x' }] }),
    );
    expect(refused.status).toBe(403);
    expect(refused.message).toContain('capabilities.models.allow');
    const receipt = await receiptAt(gw, gw.gateway.services.log.size - 1);
    expect(receipt.predicate).toMatchObject({ outcome: 'denied', policy: { effect: 'deny' } });
    const operator = new OpenAI({ apiKey: gw.adminKey, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
    const notAgent = await failure(
      operator.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'x' }] }),
    );
    expect(notAgent.status).toBe(403);
  });

  it('clamps max_tokens to the per-request cap and refuses an input over it with 429 naming the quota', async () => {
    const agent = await gw.client.createAgent({
      name: 'capped',
      manifest: manifest('capped', { llm_tokens_per_request: 40 }),
    });
    const key = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: agent.id })).key;
    const client = new OpenAI({ apiKey: key, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
    await client.chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 1000,
    });
    const sent = primary.received.at(-1)?.body;
    expect(Number(sent?.max_tokens)).toBeLessThanOrEqual(40);
    expect(Number(sent?.max_tokens)).toBeGreaterThan(0);
    // Both caps given: both are clamped, whichever one the provider reads.
    await client.chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 100_000,
      max_completion_tokens: 10_000,
    });
    const both = primary.received.at(-1)?.body;
    expect(Number(both?.max_tokens)).toBeLessThanOrEqual(40);
    expect(Number(both?.max_completion_tokens)).toBeLessThanOrEqual(40);
    const long = 'many words '.repeat(100);
    const refused = await failure(
      client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: long }] }),
    );
    expect(refused.status).toBe(429);
    expect(refused.headers?.get('oacp-quota')).toBe('agent.llm_tokens_per_request');
    expect(refused.headers?.get('retry-after')).toBeNull();
  });

  it('attack: embeddings input given as token ids counts one token each against the per-request cap, and an input array of 400,000 items is counted, not a 500', async () => {
    const agent = await gw.client.createAgent({
      name: 'token-ids',
      manifest: manifest('token-ids', { llm_tokens_per_request: 100 }),
    });
    const key = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: agent.id })).key;
    const client = new OpenAI({ apiKey: key, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
    const before = primary.received.length;
    // 5,000 token ids (what OpenAI embeds as given, pre-tokenized): they were counted as no tokens at all.
    const ids = await failure(
      client.embeddings.create({
        model: 'gpt-test',
        input: [Array.from({ length: 5000 }, (_, i) => i % 1000)],
      }),
    );
    expect(ids.status).toBe(429);
    expect(ids.headers?.get('oacp-quota')).toBe('agent.llm_tokens_per_request');
    // The ids, and the few tokens of the other fields the SDK sends (encoding_format): every field is counted.
    expect(ids.message).toMatch(/the input alone is 50\d\d tokens/);
    // 400,000 one-character inputs in a body under the size limit: counted, no stack overflow.
    const many = await failure(
      client.embeddings.create({ model: 'gpt-test', input: Array.from({ length: 400_000 }, () => 7) }),
    );
    expect(many.status).toBe(429);
    expect(many.message).toMatch(/the input alone is 4000\d\d tokens/);
    const receipt = await receiptAt(gw, receiptIndex(many.headers ?? {}));
    expect(receipt.verified).toBe(true);
    expect(receipt.predicate.outcome).toBe('quota');
    expect(primary.received.length).toBe(before);
    // A few ids within the cap go through.
    await client.embeddings.create({ model: 'gpt-test', input: [[1, 2, 3]] });
    expect(primary.received.length).toBe(before + 1);
  });

  it('attack: n answers of max_tokens each cannot multiply the per-request cap: the cap is shared out, and n that cannot fit is refused', async () => {
    const agent = await gw.client.createAgent({
      name: 'many-answers',
      manifest: manifest('many-answers', { llm_tokens_per_request: 100 }),
    });
    const key = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: agent.id })).key;
    const client = new OpenAI({ apiKey: key, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
    // max_tokens applies to each of the n answers: 10 x 150 would ask the provider for 1,500.
    await client.chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 150,
      n: 10,
    });
    const sent = primary.received.at(-1)?.body;
    expect(sent?.n).toBe(10);
    expect(Number(sent?.max_tokens)).toBeGreaterThan(0);
    expect(Number(sent?.max_tokens) * 10).toBeLessThanOrEqual(100);
    const before = primary.received.length;
    const crowded = await failure(
      client.chat.completions.create({
        model: 'gpt-test',
        messages: [{ role: 'user', content: 'hi' }],
        n: 128,
      }),
    );
    expect(crowded.status).toBe(429);
    expect(crowded.message).toContain('answers (n)');
    for (const n of [0, 129, 1.5]) {
      const bad = await failure(
        client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], n }),
      );
      expect(bad.status).toBe(400);
      expect(bad.message).toContain('`n`');
    }
    expect(primary.received.length).toBe(before);
  });

  it('attack: a provider reporting negative usage cannot credit a budget back; one answering 1e400 gets a 502 with a receipt', async () => {
    primary.queue('negative-usage');
    const { response } = await openai()
      .chat.completions.create({
        model: 'gpt-test',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 20,
      })
      .withResponse();
    const charged = await receiptAt(gw, receiptIndex(response.headers));
    expect(charged.verified).toBe(true);
    // Unbelievable usage counts as not reported: the whole reservation is charged.
    expect(charged.predicate.usage.inputTokens).toBeGreaterThan(0);
    expect(charged.predicate.usage.outputTokens).toBe(20);
    primary.queue('overflow');
    const refused = await failure(
      openai().chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] }),
    );
    expect(refused.status).toBe(502);
    expect(refused.message).toContain('a number too large for a double');
    const failed = await receiptAt(gw, receiptIndex(refused.headers ?? {}));
    expect(failed.verified).toBe(true);
    expect(failed.predicate.outcome).toBe('failed');
  });

  it('attack: an embeddings answer reporting negative, fractional or absurd usage is charged the reservation, not believed', async () => {
    for (const usage of [
      '{"prompt_tokens":-100000,"total_tokens":-100000}',
      '{"prompt_tokens":2.5,"total_tokens":2.5}',
      '{"prompt_tokens":1e300,"total_tokens":1e300}',
    ]) {
      primary.queue({ embeddingUsage: usage });
      const { response } = await openai()
        .embeddings.create({ model: 'gpt-test', input: 'vector me' })
        .withResponse();
      const receipt = await receiptAt(gw, receiptIndex(response.headers));
      expect(receipt.verified).toBe(true);
      expect(receipt.predicate.outcome).toBe('ok');
      // As for chat: a count that is not a whole number from 0 to 2^53-1 counts as not reported.
      const input = receipt.predicate.usage.inputTokens ?? Number.NaN;
      expect(Number.isSafeInteger(input), `${usage} -> ${input}`).toBe(true);
      expect(input).toBeGreaterThan(0);
      expect(input).toBeLessThan(1000);
      expect(receipt.predicate.usage.outputTokens).toBe(0);
    }
  });

  it('attack: a provider naming the served model with 4 MB or nothing still leaves a receipt for the call, and the gateway answers the next one (one oversized receipt refused every later call with 503)', async () => {
    const answer = (model: string) =>
      `{"id":"x","object":"chat.completion","created":1,"model":"${model}","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`;
    for (const model of ['m'.repeat(4_000_000), '']) {
      primary.queue({ rawAnswer: answer(model) });
      const { response } = await openai()
        .chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      const receipt = await receiptAt(gw, receiptIndex(response.headers));
      expect(receipt.verified).toBe(true);
      expect(receipt.predicate).toMatchObject({ outcome: 'ok', model: { requested: 'gpt-test' } });
      // Not believed: a served name is kept only from 1 to 256 characters.
      expect((receipt.predicate.model as { served?: string }).served).toBeUndefined();
    }
    // An Anthropic answer (an OpenAI-shaped one from an Anthropic provider is no answer: answer-shape.ts).
    claude.queue({
      rawAnswer:
        '{"id":"x","type":"message","role":"assistant","model":"","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}',
    });
    const message = await anthropic()
      .messages.create({ model: 'claude-test', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    const claudeReceipt = await receiptAt(gw, receiptIndex(message.response.headers));
    expect(claudeReceipt.verified).toBe(true);
    expect((claudeReceipt.predicate.model as { served?: string }).served).toBeUndefined();
    const { response } = await openai()
      .chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'after' }] })
      .withResponse();
    expect((await receiptAt(gw, receiptIndex(response.headers))).predicate.outcome).toBe('ok');
  });

  it('cuts a stream at the budget with a well-formed final event when the provider ignores max_tokens', async () => {
    const agent = await gw.client.createAgent({
      name: 'streamer',
      manifest: manifest('streamer', { llm_tokens_per_request: 60 }),
    });
    const key = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: agent.id })).key;
    const client = new OpenAI({ apiKey: key, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
    primary.queue('ignore-max-tokens');
    const stream = await client.chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'go on forever' }],
      stream: true,
    });
    let finish: string | null | undefined;
    let words = 0;
    let stopped: unknown;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) words += 1;
      if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
      if ((chunk as unknown as { oacp?: unknown }).oacp)
        stopped = (chunk as unknown as { oacp: unknown }).oacp;
    }
    expect(finish).toBe('length');
    expect(stopped).toMatchObject({ stopped: 'budget' });
    expect(words).toBeLessThan(400);
    const receipt = await receiptAt(gw, gw.gateway.services.log.size - 1);
    expect(receipt.predicate).toMatchObject({ outcome: 'cut', stream: true });
    expect(receipt.verified).toBe(true);
  });

  it('ends a stream the provider cuts short with an error the SDK raises, and receipts the failure', async () => {
    primary.queue('cut');
    const stream = await openai().chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'cut me' }],
      stream: true,
    });
    const consumed = (async () => {
      for await (const _chunk of stream) {
        // drain
      }
    })();
    await expect(consumed).rejects.toThrow();
    const receipt = await receiptAt(gw, gw.gateway.services.log.size - 1);
    expect(receipt.predicate).toMatchObject({ outcome: 'failed' });
  });

  it('answers 502 with a receipt when the provider sends malformed JSON, and never leaks the provider key', async () => {
    const agent = await gw.client.createAgent({ name: 'solo', manifest: manifest('solo') });
    const key = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: agent.id })).key;
    const client = new OpenAI({ apiKey: key, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
    primary.queue('malformed');
    const failed = await failure(
      client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'x' }] }),
    );
    expect(failed.status).toBe(502);
    primary.queue('echo-key');
    const echoed = await raw(gw.url, '/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(echoed.status).toBe(400);
    expect(echoed.text).not.toContain(PROVIDER_KEY);
    expect(echoed.text).toContain('[REDACTED]');
  });
});

describe('model budgets over windows and lineages', () => {
  let provider: StandIn;
  let gw: TestGateway;

  beforeAll(async () => {
    provider = await startStandIn('budget');
    gw = await startGateway({
      config: modelsConfig({
        providers: [{ name: 'only', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
        budgets: { tokens_per_hour: 120 },
      }),
    });
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await provider?.close();
  });

  it('refuses with 429, the window quota named and Retry-After, once the hour budget is spent', async () => {
    const agent = await gw.client.createAgent({ name: 'spender', manifest: manifest('spender') });
    const key = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: agent.id })).key;
    const client = new OpenAI({ apiKey: key, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
    let served = 0;
    let refusal: InstanceType<typeof OpenAI.APIError> | undefined;
    for (let i = 0; i < 20 && refusal === undefined; i++) {
      try {
        await client.chat.completions.create({
          model: 'gpt-test',
          messages: [{ role: 'user', content: 'spend' }],
          max_tokens: 10,
        });
        served += 1;
      } catch (error) {
        refusal = error as InstanceType<typeof OpenAI.APIError>;
      }
    }
    // Each call settles at 11 input + 10 output = 21 tokens; the sixth is clamped to what is left
    // (a smaller max_tokens), and the seventh finds nothing left.
    expect(served).toBe(6);
    expect(Number(provider.received.at(-1)?.body.max_tokens)).toBeLessThan(10);
    expect(refusal?.status).toBe(429);
    expect(refusal?.headers?.get('oacp-quota')).toBe('models.budgets.tokens_per_hour');
    expect(Number(refusal?.headers?.get('retry-after'))).toBeGreaterThan(0);
  });

  it('charges a child agent to its parent: the child exhausts the parent, then the parent is refused', async () => {
    const parent = await gw.client.createAgent({ name: 'parent', manifest: manifest('parent') });
    const child = await gw.client.createAgent({
      name: 'child',
      manifest: manifest('child'),
      parent: parent.id,
    });
    const childKey = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: child.id })).key;
    const parentKey = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: parent.id })).key;
    const asChild = new OpenAI({ apiKey: childKey, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
    const asParent = new OpenAI({ apiKey: parentKey, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
    let childRefused: InstanceType<typeof OpenAI.APIError> | undefined;
    for (let i = 0; i < 20 && childRefused === undefined; i++) {
      await asChild.chat.completions
        .create({ model: 'gpt-test', messages: [{ role: 'user', content: 'spend' }], max_tokens: 10 })
        .catch((error: unknown) => {
          childRefused = error as InstanceType<typeof OpenAI.APIError>;
        });
    }
    expect(childRefused?.status).toBe(429);
    const refused = await failure(
      asParent.chat.completions.create({
        model: 'gpt-test',
        messages: [{ role: 'user', content: 'mine' }],
        max_tokens: 10,
      }),
    );
    expect(refused.status).toBe(429);
  });
});

describe('model batches', () => {
  let provider: StandIn;
  let gw: TestGateway;

  beforeAll(async () => {
    provider = await startStandIn('batch');
    gw = await startGateway({
      config: modelsConfig({
        providers: [{ name: 'only', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
        budgets: { tokens_per_hour: 400 },
        batch_concurrency: 3,
      }),
    });
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await provider?.close();
  });

  const batchOf = (count: number, maxTokens: number) => ({
    endpoint: '/v1/chat/completions',
    requests: Array.from({ length: count }, (_, i) => ({
      custom_id: `item-${i}`,
      body: { model: 'gpt-test', messages: [{ role: 'user', content: `item ${i}` }], max_tokens: maxTokens },
    })),
  });

  it('reserves a whole batch, answers every item with a receipt of its own, and gives back what was not used', async () => {
    const agent = await gw.client.createAgent({ name: 'batcher', manifest: manifest('batcher') });
    const key = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: agent.id })).key;
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const answer = await raw(gw.url, '/v1/oacp/batches', {
      method: 'POST',
      headers,
      body: JSON.stringify(batchOf(4, 20)),
    });
    expect(answer.status).toBe(200);
    const results = (
      answer.json as { results: Array<{ custom_id: string; status: number; receipt: number }> }
    ).results;
    expect(results.map((r) => [r.custom_id, r.status])).toEqual([0, 1, 2, 3].map((i) => [`item-${i}`, 200]));
    expect(new Set(results.map((r) => r.receipt)).size).toBe(4);
    for (const result of results) {
      expect((await receiptAt(gw, result.receipt)).predicate).toMatchObject({
        outcome: 'ok',
        endpoint: 'chat.completions',
      });
    }
    // 4 x (11 + 10) settled; the rest of the batch's reservation came back, so a batch of 8 more still fits.
    const second = await raw(gw.url, '/v1/oacp/batches', {
      method: 'POST',
      headers,
      body: JSON.stringify(batchOf(8, 10)),
    });
    expect(second.status).toBe(200);
  });

  it('refuses a batch that does not fit the budget as a whole: 429, nothing sent, one receipt per item', async () => {
    const agent = await gw.client.createAgent({ name: 'big-batcher', manifest: manifest('big-batcher') });
    const key = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: agent.id })).key;
    const sentBefore = provider.received.length;
    const logBefore = gw.gateway.services.log.size;
    const answer = await raw(gw.url, '/v1/oacp/batches', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(batchOf(10, 100)),
    });
    expect(answer.status).toBe(429);
    expect(answer.headers.get('oacp-quota')).toBe('models.budgets.tokens_per_hour');
    expect(provider.received.length).toBe(sentBefore);
    expect(gw.gateway.services.log.size).toBe(logBefore + 10);
    expect((await receiptAt(gw, logBefore)).predicate).toMatchObject({ outcome: 'quota' });
  });

  it('refuses a malformed batch with 400 naming the field', async () => {
    const agent = await gw.client.createAgent({ name: 'sloppy', manifest: manifest('sloppy') });
    const key = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: agent.id })).key;
    const answer = await raw(gw.url, '/v1/oacp/batches', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ endpoint: '/v1/images', requests: [] }),
    });
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('endpoint');
  });

  it('attack: a batch whose inline requests share a custom_id is refused (400 naming it) before anything is reserved or sent, on both batch routes', async () => {
    const agent = await gw.client.createAgent({ name: 'twins', manifest: manifest('twins') });
    const key = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: agent.id })).key;
    const item = {
      custom_id: 'same',
      body: { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] },
    };
    const before = gw.gateway.services.log.size;
    const sent = provider.received.length;
    for (const path of ['/v1/oacp/batches', '/v1/batches']) {
      const answer = await raw(gw.url, path, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ endpoint: '/v1/chat/completions', requests: [item, item] }),
      });
      expect(answer.status).toBe(400);
      expect(answer.text).toContain('requests.1.custom_id');
      expect(answer.text).toContain('custom_id \\"same\\" is used twice');
    }
    expect(provider.received.length).toBe(sent);
    expect(gw.gateway.services.log.size).toBe(before);
  });
});
