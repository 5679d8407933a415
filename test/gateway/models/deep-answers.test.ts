import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../service/harness.js';
import { modelAgent, modelsConfig, putProviderKey, receiptAt } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const DEEP = 20_000;
const deepObject = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

interface Predicate {
  readonly outcome: string;
  readonly reason?: string;
}

/**
 * Issue 14 (every effect one true receipt, nothing crashes): tool calls nested thousands of
 * levels deep, in a provider's answer or inside a tool call's arguments string (where the body's
 * own depth check cannot see), crossing a translation between the OpenAI and Anthropic formats.
 * Each was a 500 with no receipt, after the provider had the call for an answer.
 */
describe('deeply nested tool calls across a translation', () => {
  let oa: StandIn;
  let an: StandIn;
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    oa = await startStandIn('oa');
    an = await startStandIn('an');
    gw = await startGateway({
      config: modelsConfig({
        providers: [
          { name: 'oa', kind: 'openai', base_url: `${oa.url}/v1`, max_retries: 0, models: ['gpt-test'] },
          { name: 'an', kind: 'anthropic', base_url: an.url, max_retries: 0, models: ['claude-test'] },
        ],
        // Each alias's providers are all of the other format: its calls are translated.
        aliases: {
          'via-openai': { model: 'gpt-test', providers: ['oa'] },
          'via-anthropic': { model: 'claude-test', providers: ['an'] },
        },
      }),
    });
    key = (await modelAgent(gw, 'deep', ['*'])).key;
    await putProviderKey(gw, 'oa', 'sk-deep-provider-key-0123456789');
    await putProviderKey(gw, 'an', 'sk-deep-provider-key-0123456789', 'x-api-key');
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await Promise.all([oa?.close(), an?.close()]);
  });

  const post = async (path: string, body: unknown) => {
    const answer = await request(new URL(path, gw.url), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${key}`,
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify(body),
    });
    const text = await answer.body.text();
    const index = answer.headers['oacp-receipt'];
    return {
      status: answer.statusCode,
      text,
      receipt: index === undefined ? undefined : (await receiptAt<Predicate>(gw, Number(index))).predicate,
    };
  };

  it('attack: an Anthropic tool_use input 20,000 levels deep, to an OpenAI client: a 502 naming the limit and a failed receipt, not a 500', async () => {
    an.queue({
      rawAnswer: `{"id":"m","type":"message","role":"assistant","model":"claude-test","content":[{"type":"tool_use","id":"t","name":"f","input":${deepObject(DEEP)}}],"stop_reason":"tool_use","usage":{"input_tokens":3,"output_tokens":1}}`,
    });
    const answer = await post('/v1/chat/completions', {
      model: 'via-anthropic',
      max_tokens: 8,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(answer.status).toBe(502);
    expect(answer.text).toContain('nests more than 512 levels deep');
    expect(answer.receipt).toMatchObject({ outcome: 'failed' });
  });

  it('attack: OpenAI tool_calls arguments 20,000 levels deep (a string), to an Anthropic client: answered, the arguments kept as _raw text, receipted ok', async () => {
    oa.queue({
      rawAnswer: `{"id":"x","object":"chat.completion","created":1,"model":"gpt-test","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":${JSON.stringify(deepObject(DEEP))}}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`,
    });
    const answer = await post('/v1/messages', {
      model: 'via-openai',
      max_tokens: 8,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(answer.status).toBe(200);
    const message = JSON.parse(answer.text) as { content: { type: string; input: { _raw?: string } }[] };
    expect(message.content[0]?.type).toBe('tool_use');
    expect(message.content[0]?.input._raw).toBe(deepObject(DEEP));
    expect(answer.receipt).toMatchObject({ outcome: 'ok' });
  });

  it('attack: a request whose assistant tool_calls arguments nest 20,000 levels (inside a string) is refused 400 naming the field, with a receipt, nothing sent', async () => {
    const sent = an.received.length;
    const answer = await post('/v1/chat/completions', {
      model: 'via-anthropic',
      max_tokens: 8,
      messages: [
        { role: 'user', content: 'hi' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: deepObject(DEEP) } }],
        },
        { role: 'tool', tool_call_id: 'c', content: 'ok' },
      ],
    });
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('messages[1].tool_calls[0].function.arguments must be a JSON object');
    expect(answer.receipt).toMatchObject({ outcome: 'denied' });
    expect(an.received.length).toBe(sent);
  });

  it('attack: a stream event 20,000 levels deep ends the stream as failed with a receipt, and the gateway answers the next call', async () => {
    oa.queue({
      rawStream: `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-test","choices":[{"index":0,"delta":{"content":"hi"}}],"x":${deepObject(DEEP)}}\n\ndata: [DONE]\n\n`,
    });
    const answer = await post('/v1/chat/completions', {
      model: 'gpt-test',
      stream: true,
      max_tokens: 8,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(answer.text).toContain('nests more than 512 levels deep');
    const after = await post('/v1/chat/completions', {
      model: 'gpt-test',
      max_tokens: 8,
      messages: [{ role: 'user', content: 'after' }],
    });
    expect(after.status).toBe(200);
  });
});
