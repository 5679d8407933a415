import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postAs, receiptAt, type TwoProviders, twoProviders } from './model-fixture.js';

// Go's encoding/json (Ollama, LocalAI and other OpenAI-compatible servers) matches a member to a
// field case-insensitively and keeps the last it meets. The gateway routed, priced and clamped
// what it read (`model`, `max_tokens`, `stream`) and sent the body on with its twins, so such a
// provider served `Model` (a model the agent may not call), read `MAX_TOKENS` past the clamp, or
// streamed on `Stream`.
describe('attack: request members a lenient provider reads as one', () => {
  let t: TwoProviders;
  beforeAll(async () => {
    t = await twoProviders('member-names', { llm_tokens_per_request: 40 });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  const post = (path: string, body: Record<string, unknown>) => postAs(t, path, body);

  it('is refused with a 400 naming the members and a receipt, and never reaches a provider', async () => {
    const messages = [{ role: 'user', content: 'hi' }];
    const cases: Array<[string, Record<string, unknown>]> = [
      ['/v1/chat/completions', { model: 'gpt-test', Model: 'gpt-forbidden', messages }],
      ['/v1/chat/completions', { model: 'gpt-test', messages, max_tokens: 10, MAX_TOKENS: 100_000 }],
      ['/v1/chat/completions', { model: 'gpt-test', messages, MAX_TOKENS: 100_000 }],
      ['/v1/chat/completions', { model: 'gpt-test', messages, stream: false, Stream: true }],
      [
        '/v1/chat/completions',
        { model: 'gpt-test', messages: [{ role: 'user', content: 'hi', Content: 'x' }] },
      ],
      ['/v1/messages', { model: 'claude-test', max_tokens: 5, messages, 'max_token\u017f': 100_000 }],
      ['/v1/embeddings', { model: 'gpt-test', input: 'hi', Input: 'many words '.repeat(50) }],
    ];
    for (const [path, body] of cases) {
      const sent = t.openai.received.length + t.claude.received.length;
      const answer = await post(path, body);
      const text = await answer.body.text();
      const what = `${path} ${JSON.stringify(body).slice(0, 120)}`;
      expect(answer.statusCode, what).toBe(400);
      expect(text, what).toMatch(/only in case, spacing or Unicode form/);
      expect(t.openai.received.length + t.claude.received.length, what).toBe(sent);
      const receipt = await receiptAt(t.gw, Number(answer.headers['oacp-receipt']));
      expect(receipt.verified, what).toBe(true);
      expect(receipt.predicate, what).toMatchObject({ outcome: 'denied' });
    }
  });

  it('names of their own (metadata keys, a tool schema) that differ more than in case are served', async () => {
    const answer = await post('/v1/chat/completions', {
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hi' }],
      metadata: { Team: 'a', team_id: 'b' },
    });
    await answer.body.text();
    expect(answer.statusCode).toBe(200);
  });

  // A tool whose arguments have both `ID` and `id` was refused as twin names; the keys of a schema's
  // `properties` are map keys a provider matches exactly (Go decodes them into a map), so it is served.
  const schema = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    type: 'object',
    properties,
    ...extra,
  });
  it('a tool schema with properties `ID` and `id` (and $defs `Item`, `item`) is served, as sent', async () => {
    const sent = t.openai.received.length;
    const parameters = schema(
      { ID: { type: 'string' }, id: { type: 'integer' } },
      { $defs: { Item: { type: 'string' }, item: { type: 'number' } }, required: ['ID', 'id'] },
    );
    const answer = await post('/v1/chat/completions', {
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ type: 'function', function: { name: 'lookup', parameters } }],
    });
    const text = await answer.body.text();
    expect(answer.statusCode, text).toBe(200);
    expect(t.openai.received.length).toBe(sent + 1);
    expect(JSON.stringify(t.openai.received.at(-1))).toContain(JSON.stringify(parameters));
  });

  it('attack: twins in a schema’s own fields, under a property, or in the members beside a tool’s schema are still refused', async () => {
    const tool = (fn: Record<string, unknown>) => ({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ type: 'function', function: { name: 'lookup', ...fn } }],
    });
    for (const body of [
      tool({ parameters: { type: 'object', Type: 'string', properties: {} } }),
      tool({ parameters: schema({ id: { type: 'string', TYPE: 'integer' } }) }),
      tool({ parameters: schema({ id: schema({ a: {}, A: {} }, { Properties: {} }) }) }),
      tool({ parameters: schema({}), Parameters: schema({ x: {} }) }),
      { ...tool({ parameters: schema({}) }), properties: { a: 1 }, Properties: { b: 2 } },
    ]) {
      const sent = t.openai.received.length;
      const answer = await post('/v1/chat/completions', body);
      const text = await answer.body.text();
      expect(answer.statusCode, JSON.stringify(body)).toBe(400);
      expect(text).toMatch(/only in case, spacing or Unicode form/);
      expect(t.openai.received.length).toBe(sent);
    }
  });
});
