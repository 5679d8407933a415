import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raw, startGateway, type TestGateway } from '../service/harness.js';
import { batchProvider, modelAgent, modelsConfig, putProviderKey, receiptAt } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const KEY = 'sk-standin-batch-secret-0123456789';

interface BatchAnswer {
  results: Array<{ custom_id: string; status: number; body: Record<string, unknown>; receipt: number }>;
}

describe("batches handed to the providers' own batch APIs (stand-in providers)", () => {
  let gpt: StandIn;
  let claude: StandIn;
  let gw: TestGateway;
  let receipt: (index: number) => Promise<{ predicate: Record<string, unknown>; verified: boolean }>;

  beforeAll(async () => {
    gpt = await startStandIn('gpt');
    claude = await startStandIn('claude');
    gw = await startGateway({
      config: modelsConfig({
        providers: [
          batchProvider('gpt', gpt.url, 'openai', ['gpt-test']),
          batchProvider('claude', claude.url, 'anthropic', ['claude-test']),
        ],
        aliases: { 'claude-as-gpt': { model: 'claude-test', providers: ['claude'] } },
        budgets: { tokens_per_hour: 2000 },
        batch_poll_ms: 20,
      }),
    });
    await putProviderKey(gw, 'gpt', KEY);
    await putProviderKey(gw, 'claude', KEY, 'x-api-key');
    // The receipt reader of the translation fixture, over this gateway.
    receipt = (index) => receiptAt(gw, index);
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await Promise.all([gpt?.close(), claude?.close()]);
  });

  const agentKey = async (name: string, models = ['gpt-test', 'claude-test']) =>
    (await modelAgent(gw, name, models)).key;

  const post = (key: string, batch: unknown) =>
    raw(gw.url, '/v1/oacp/batches', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(batch),
    });

  it('sends a Chat Completions batch through /v1/files and /v1/batches, one receipt per item', async () => {
    const key = await agentKey('openai-batcher');
    const direct = gpt.received.filter(
      (r) => r.path === '/v1/chat/completions' && r.headers['x-stand-in-batch'] === undefined,
    ).length;
    const answer = await post(key, {
      endpoint: '/v1/chat/completions',
      requests: [0, 1, 2].map((i) => ({
        custom_id: `q${i}`,
        body: { model: 'gpt-test', messages: [{ role: 'user', content: `question ${i}` }], max_tokens: 5 },
      })),
    });
    expect(answer.status).toBe(200);
    const { results } = answer.json as BatchAnswer;
    expect(results.map((r) => [r.custom_id, r.status])).toEqual([
      ['q0', 200],
      ['q1', 200],
      ['q2', 200],
    ]);
    expect(results[0]?.body).toMatchObject({ object: 'chat.completion', usage: { completion_tokens: 5 } });
    // Nothing went to the chat endpoint directly: one upload, one batch, polls, one output file.
    expect(
      gpt.received.filter(
        (r) => r.path === '/v1/chat/completions' && r.headers['x-stand-in-batch'] === undefined,
      ).length,
    ).toBe(direct);
    const paths = gpt.batchCalls.map((c) => `${c.method} ${c.path}`);
    expect(paths[0]).toBe('POST /v1/files');
    expect(paths[1]).toBe('POST /v1/batches');
    expect(paths.filter((p) => p.startsWith('GET /v1/batches/')).length).toBeGreaterThanOrEqual(2);
    expect(paths.some((p) => /^GET \/v1\/files\/.+\/content$/.test(p))).toBe(true);
    expect(gpt.batchCalls.every((c) => c.key === `Bearer ${KEY}`)).toBe(true);
    // Each item was sent with its clamped cap, under the gateway's own ids (never the client's).
    const items = gpt.received.filter((r) => r.headers['x-stand-in-batch'] === '1').slice(-3);
    expect(items.map((r) => r.body.max_tokens)).toEqual([5, 5, 5]);
    expect(new Set(results.map((r) => r.receipt)).size).toBe(3);
    for (const result of results) {
      const logged = await receipt(result.receipt);
      expect(logged.verified).toBe(true);
      expect(logged.predicate).toMatchObject({
        outcome: 'ok',
        provider: { name: 'gpt', kind: 'openai' },
        usage: { inputTokens: 11, outputTokens: 5 },
      });
      expect(JSON.stringify(logged.predicate)).not.toContain(KEY);
    }
  });

  it('sends a Messages batch through /v1/messages/batches, and refuses an item for a model no provider serves without holding up the rest', async () => {
    const key = await agentKey('anthropic-batcher', ['claude-test']);
    const answer = await post(key, {
      endpoint: '/v1/messages',
      requests: [
        {
          custom_id: 'a',
          body: { model: 'claude-test', max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] },
        },
        {
          custom_id: 'b',
          body: { model: 'claude-other', max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] },
        },
        {
          custom_id: 'c',
          body: { model: 'claude-test', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] },
        },
      ],
    });
    expect(answer.status).toBe(200);
    const { results } = answer.json as BatchAnswer;
    expect(results.map((r) => [r.custom_id, r.status])).toEqual([
      ['a', 200],
      ['b', 404],
      ['c', 200],
    ]);
    expect(results[2]?.body).toMatchObject({
      type: 'message',
      content: [{ type: 'text', text: 'The gateway relayed this' }],
    });
    const submitted = claude.batchCalls.find((c) => c.method === 'POST' && c.path === '/v1/messages/batches');
    expect(submitted?.key).toBe(KEY);
    expect((await receipt(results[1]?.receipt ?? -1)).predicate).toMatchObject({ outcome: 'denied' });
    expect((await receipt(results[2]?.receipt ?? -1)).predicate).toMatchObject({
      outcome: 'ok',
      provider: { name: 'claude', kind: 'anthropic' },
      usage: { outputTokens: 4 },
    });
  });

  it('refuses a batch larger than the budget: 429 naming the quota, no batch submitted, one receipt per item', async () => {
    const key = await agentKey('greedy-batcher');
    const calls = gpt.batchCalls.length;
    const logBefore = gw.gateway.services.log.size;
    const answer = await post(key, {
      endpoint: '/v1/chat/completions',
      requests: [0, 1, 2, 3].map((i) => ({
        custom_id: `g${i}`,
        body: { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], max_tokens: 600 },
      })),
    });
    expect(answer.status).toBe(429);
    expect(answer.headers.get('oacp-quota')).toBe('models.budgets.tokens_per_hour');
    expect(gpt.batchCalls.length).toBe(calls);
    expect(gw.gateway.services.log.size).toBe(logBefore + 4);
    expect((await receipt(logBefore)).predicate).toMatchObject({ outcome: 'quota' });
  });

  it('fails every item (502, receipted, key never echoed) when the provider refuses the batch, and gives their budget back', async () => {
    const key = await agentKey('refused-batcher');
    gpt.refuseNextBatch();
    const batch = {
      endpoint: '/v1/chat/completions',
      requests: [0, 1].map((i) => ({
        custom_id: `r${i}`,
        body: { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], max_tokens: 700 },
      })),
    };
    const answer = await post(key, batch);
    expect(answer.status).toBe(200);
    const { results } = answer.json as BatchAnswer;
    expect(results.map((r) => r.status)).toEqual([502, 502]);
    expect(answer.text).not.toContain(KEY);
    const logged = await receipt(results[0]?.receipt ?? -1);
    expect(logged.predicate).toMatchObject({ outcome: 'failed', attempts: [{ provider: 'gpt' }] });
    expect(JSON.stringify(logged.predicate)).not.toContain(KEY);
    // Nothing ran, so the ~1,400 tokens came back: the same batch fits the 2,000-token hour again.
    const again = await post(key, batch);
    expect((again.json as BatchAnswer).results.map((r) => r.status)).toEqual([200, 200]);
  });

  it('sends Chat Completions items for an Anthropic alias through the Message Batches API, answered in the OpenAI format', async () => {
    const key = await agentKey('crossing-batcher', ['claude-as-gpt']);
    const submissions = claude.batchCalls.filter((c) => c.path === '/v1/messages/batches').length;
    const answer = await post(key, {
      endpoint: '/v1/chat/completions',
      requests: [
        {
          custom_id: 'x',
          body: {
            model: 'claude-as-gpt',
            messages: [
              { role: 'system', content: 'Brief.' },
              { role: 'user', content: 'hi' },
            ],
            max_tokens: 2,
          },
        },
      ],
    });
    const { results } = answer.json as BatchAnswer;
    expect(results[0]?.status).toBe(200);
    expect(results[0]?.body).toMatchObject({
      object: 'chat.completion',
      choices: [{ message: { content: 'The gateway' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 11, completion_tokens: 2 },
    });
    expect(claude.batchCalls.filter((c) => c.path === '/v1/messages/batches').length).toBe(submissions + 1);
    const sent = claude.received.filter((r) => r.headers['x-stand-in-batch'] === '1').at(-1);
    expect(sent?.body).toMatchObject({ model: 'claude-test', system: 'Brief.', max_tokens: 2 });
  });
});
