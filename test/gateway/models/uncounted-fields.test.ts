import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../service/harness.js';
import { modelsConfig, putProviderKey } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const LIMIT = 300;
const LONG = 'tokens in a field nobody counted '.repeat(200);

/**
 * Issue 14 ("per request: pre-flight count with a real tokenizer"): the count read `messages`,
 * `system`, `tools`, `input` and `prompt` only, and values only. A provider reads and bills more:
 * OpenAI's legacy `functions`, a `response_format` JSON schema, `prediction`; and a schema's
 * property names are tokens too. A request with its bulk there passed llm_tokens_per_request and
 * reached the provider. Every member of the body but `model` is counted now, names included.
 */
describe('llm_tokens_per_request counts every field a provider reads', () => {
  let provider: StandIn;
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    provider = await startStandIn('counted');
    gw = await startGateway({
      config: modelsConfig({
        providers: [{ name: 'counted', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
      }),
    });
    const agent = await gw.client.createAgent({
      name: 'stuffer',
      manifest: {
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name: 'stuffer',
        capabilities: { models: { allow: ['*'] } },
        quotas: { memory_mb: 16, llm_tokens_per_request: LIMIT },
      },
    });
    key = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: agent.id })).key;
    await putProviderKey(gw, 'counted', 'sk-counted-0123456789');
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await provider?.close();
  });

  const chat = async (extra: Record<string, unknown>) => {
    const answer = await request(new URL('/v1/chat/completions', gw.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({
        model: 'gpt-test',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 8,
        ...extra,
      }),
    });
    return { status: answer.statusCode, quota: answer.headers['oacp-quota'], text: await answer.body.text() };
  };

  for (const [field, extra] of [
    [
      'functions (legacy function calling)',
      { functions: [{ name: 'f', description: LONG, parameters: {} }] },
    ],
    [
      'a response_format JSON schema',
      { response_format: { type: 'json_schema', json_schema: { name: 's', schema: { description: LONG } } } },
    ],
    ['prediction', { prediction: { type: 'content', content: LONG } }],
    [
      "a tool schema's property names",
      {
        tools: [
          {
            type: 'function',
            function: {
              name: 'f',
              parameters: { type: 'object', properties: { [LONG]: { type: 'string' } } },
            },
          },
        ],
      },
    ],
  ] as const) {
    it(`attack: ${field} holding ~1,400 tokens is refused (429, the quota named) and never reaches the provider`, async () => {
      const sent = provider.received.length;
      const answer = await chat(extra);
      expect(answer.status).toBe(429);
      expect(answer.quota).toBe('agent.llm_tokens_per_request');
      expect(provider.received.length).toBe(sent);
    });
  }

  it('a small request with the same fields still goes through', async () => {
    const answer = await chat({ functions: [{ name: 'f', description: 'short', parameters: {} }] });
    expect(answer.status).toBe(200);
  });
});
