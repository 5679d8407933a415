import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Logger } from '../../../src/gateway/observability/logger.js';
import { type OpenAiProvider, openAiProvider, postAs, receiptAt } from './model-fixture.js';

/** Shaped like no key the pattern redactor knows (no `sk-`, no `oacp_`): only its value can mask it. */
const PROVIDER_KEY = 'AIzaStandInKeyNoPatternKnows0123456789';

/**
 * Attack: the provider (the stand-in for a remote API, stand-in-provider.ts) quotes the bare key
 * it was sent in a 401 body, a 500 body and a streamed error event. The key must reach no answer,
 * no receipt and no log line.
 */
describe('a provider that echoes a key shaped like no known key', () => {
  let t: OpenAiProvider;
  const lines: string[] = [];

  beforeAll(async () => {
    t = await openAiProvider('only', 'echoed', PROVIDER_KEY, {
      logger: new Logger((line) => lines.push(line), 'debug'),
      models: { breaker: { failures: 1000, cooldown_ms: 400 } },
    });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  const chat = async (stream: boolean) => {
    const answer = await postAs(t, '/v1/chat/completions', {
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hi' }],
      stream,
    });
    return {
      status: answer.statusCode,
      text: await answer.body.text(),
      receipt: answer.headers['oacp-receipt'],
    };
  };

  const quoted = (status: number) => ({
    rawAnswer: JSON.stringify({ error: { message: `Incorrect API key provided: ${PROVIDER_KEY}` } }),
    status,
  });

  it.each([401, 500])('in a %i body: not in the answer or its receipt', async (status) => {
    t.provider.queue(quoted(status));
    const answer = await chat(false);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.text).not.toContain(PROVIDER_KEY);
    const receipt = await receiptAt(t.gw, Number(answer.receipt));
    expect(receipt.text).not.toContain(PROVIDER_KEY);
  });

  it('in a streamed error event: not in the relayed stream', async () => {
    t.provider.queue({
      rawStream: `data: ${JSON.stringify({ error: { message: `key ${PROVIDER_KEY} was revoked` } })}\n\n`,
    });
    const answer = await chat(true);
    expect(answer.text).toContain('revoked');
    expect(answer.text).not.toContain(PROVIDER_KEY);
  });

  /** The key as JSON may spell it: every character a \\u escape, which a parser reads as the key itself. */
  const escaped = [...PROVIDER_KEY]
    .map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .join('');
  /** What the agent's JSON parser reads from an answer: each SSE data line, or the body. */
  const decoded = (text: string): string =>
    text.startsWith('{')
      ? JSON.stringify(JSON.parse(text))
      : text
          .split('\n')
          .filter((line) => line.startsWith('data: {'))
          .map((line) => JSON.stringify(JSON.parse(line.slice(6))))
          .join('\n');

  it.each([400, 401])(
    'attack: in a %i body with each character \\u-escaped: not in what the agent parses, nor the receipt',
    async (status) => {
      t.provider.queue({
        rawAnswer: `{"error":{"message":"Incorrect API key provided: ${escaped}"}}`,
        status,
      });
      const answer = await chat(false);
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(decoded(answer.text)).toContain('Incorrect API key provided');
      expect(decoded(answer.text)).not.toContain(PROVIDER_KEY);
      const receipt = await receiptAt(t.gw, Number(answer.receipt));
      expect(decoded(receipt.text)).not.toContain(PROVIDER_KEY);
    },
  );

  it('attack: in a streamed error event with each character \\u-escaped: not in what the agent parses', async () => {
    t.provider.queue({ rawStream: `data: {"error":{"message":"key ${escaped} was revoked"}}\n\n` });
    const answer = await chat(true);
    expect(decoded(answer.text)).toContain('revoked');
    expect(decoded(answer.text)).not.toContain(PROVIDER_KEY);
  });

  it('was really sent upstream, and is in no receipt and no log line', async () => {
    expect(t.provider.received.some((r) => r.headers.authorization === `Bearer ${PROVIDER_KEY}`)).toBe(true);
    const log = t.gw.gateway.services.log;
    for (let i = 0; i < log.size; i++) expect((await receiptAt(t.gw, i)).text).not.toContain(PROVIDER_KEY);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).not.toContain(PROVIDER_KEY);
  });
});
