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
});
