import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postAs, receiptAt, type TwoProviders, twoProviders } from './model-fixture.js';

// The gateway decides streaming (Cedar's `context.stream`, the cut at the budget, the receipt's
// `stream`) on `stream === true`, and sent any other value on as it came. A provider that reads
// JSON leniently (pydantic's lax mode, as in vLLM, takes "true", 1, "on" for true) then streamed an
// answer the gateway had checked, recorded and was reading as a whole one.
describe('attack: a stream flag that is not a boolean', () => {
  let t: TwoProviders;
  beforeAll(async () => {
    t = await twoProviders('stream-flag');
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  const post = (path: string, body: Record<string, unknown>) => postAs(t, path, body);

  it('is refused with a 400 naming `stream` and a receipt, and never reaches a provider', async () => {
    const messages = [{ role: 'user', content: 'hi' }];
    const cases: Array<[string, Record<string, unknown>]> = [
      ['/v1/chat/completions', { model: 'gpt-test', messages, stream: 'true' }],
      ['/v1/chat/completions', { model: 'gpt-test', messages, stream: 1 }],
      ['/v1/chat/completions', { model: 'gpt-test', messages, stream: {} }],
      ['/v1/messages', { model: 'claude-test', max_tokens: 5, messages, stream: 'on' }],
      ['/v1/embeddings', { model: 'gpt-test', input: 'hi', stream: 'true' }],
    ];
    for (const [path, body] of cases) {
      const sent = t.openai.received.length + t.claude.received.length;
      const answer = await post(path, body);
      const text = await answer.body.text();
      const what = `${path} ${JSON.stringify(body.stream)}`;
      expect(answer.statusCode, what).toBe(400);
      expect(text, what).toContain('`stream` must be true or false');
      expect(t.openai.received.length + t.claude.received.length, what).toBe(sent);
      const index = Number(answer.headers['oacp-receipt']);
      expect(Number.isInteger(index), what).toBe(true);
      const receipt = await receiptAt(t.gw, index);
      expect(receipt.verified, what).toBe(true);
      expect(receipt.predicate, what).toMatchObject({ outcome: 'denied' });
    }
  });

  it('true, false, null and absent are served as before', async () => {
    const messages = [{ role: 'user', content: 'hi' }];
    for (const stream of [true, false, null, undefined]) {
      const answer = await post('/v1/chat/completions', {
        model: 'gpt-test',
        messages,
        ...(stream === undefined ? {} : { stream }),
      });
      await answer.body.text();
      expect(answer.statusCode, String(stream)).toBe(200);
    }
  });
});
