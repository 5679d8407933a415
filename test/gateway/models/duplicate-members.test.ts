import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenAiProvider, openAiProvider, postAs, receiptAt } from './model-fixture.js';

/** Two readings of one answer: "benign" to a parser keeping the first member, "evil" to JSON.parse. */
const TWO_READINGS =
  '{"id":"c","object":"chat.completion","created":1,"model":"gpt-test","choices":[{"index":0,"message":{"role":"assistant","content":"benign","content":"evil"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}';
const chunk = (delta: string) =>
  `data: {"id":"s","object":"chat.completion.chunk","created":1,"model":"gpt-test","choices":[{"index":0,"delta":${delta},"finish_reason":null}]}\n\n`;

/**
 * Issue 10/14 (a receipt's responseDigest is of the answer the agent received). The gateway passes
 * a provider's answer on as the bytes it sent, and digested JSON.parse's reading of them, which
 * keeps the last of a repeated member. An answer holding `"content":"benign","content":"evil"` read
 * as "benign" to a client whose parser keeps the first member (or was refused by a strict one),
 * while its receipt vouched for "evil". Such an answer is refused as unreadable, as the receipts
 * and logs refuse duplicate members (src/core/duplicate-key.ts).
 */
describe('a provider answer that repeats a member', () => {
  let t: OpenAiProvider;

  beforeAll(async () => {
    t = await openAiProvider('twice', 'reader', 'sk-twice-0123456789');
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  const chat = async (stream: boolean) => {
    const answer = await postAs(t, '/v1/chat/completions', {
      model: 'gpt-test',
      max_tokens: 8,
      stream,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const text = await answer.body.text();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const receipt = await receiptAt<{ outcome: string; reason?: string }>(
      t.gw,
      t.gw.gateway.services.log.size - 1,
    );
    return { status: answer.statusCode, text, predicate: receipt.predicate, verified: receipt.verified };
  };

  it('attack: a whole answer with "content" twice is a 502 naming the member, neither reading reaches the agent, the receipt says failed', async () => {
    t.provider.queue({ rawAnswer: TWO_READINGS });
    const answer = await chat(false);
    expect(answer.status).toBe(502);
    expect(answer.text).toMatch(/repeats the member \\"content\\"/);
    expect(answer.text).not.toMatch(/benign|evil/);
    expect(answer.predicate.outcome).toBe('failed');
    expect(answer.predicate.reason).toMatch(/repeats the member "content"/);
    expect(answer.verified).toBe(true);
  });

  it('attack: a stream event with "content" twice ends the stream there with an error event and a failed receipt', async () => {
    t.provider.queue({
      rawStream: `${chunk('{"content":"one"}')}${chunk('{"content":"benign","content":"evil"}')}${chunk('{"content":"three"}')}data: [DONE]\n\n`,
    });
    const answer = await chat(true);
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('"one"');
    expect(answer.text).not.toMatch(/benign|evil|three/);
    expect(answer.text).toMatch(/provider_stream_failed/);
    expect(answer.predicate.outcome).toBe('failed');
    expect(answer.predicate.reason).toMatch(/repeats the member "content"/);
  });

  it('the same answer without the repeat is passed on as it came', async () => {
    t.provider.queue({ rawAnswer: TWO_READINGS.replace('"content":"benign",', '') });
    const answer = await chat(false);
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(TWO_READINGS.replace('"content":"benign",', ''));
    expect(answer.predicate.outcome).toBe('ok');
  });
});
