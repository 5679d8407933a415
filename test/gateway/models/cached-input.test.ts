import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../service/harness.js';
import {
  anthropicMessage,
  anthropicStream,
  messagesCall,
  type OneProvider,
  oneProvider,
  receiptAt,
} from './model-fixture.js';
import type { StandIn } from './stand-in-provider.js';

interface Predicate {
  readonly outcome: string;
  readonly usage: { inputTokens: number; outputTokens: number; chargedTokens?: number };
}

const CACHED = 3000;

/**
 * Issue 14 (budgets settled on the provider's reported usage). Anthropic reports the input it
 * read from or wrote to the prompt cache apart from `input_tokens` (`cache_creation_input_tokens`,
 * `cache_read_input_tokens`), and bills both. The gateway settled on `input_tokens` alone: an
 * agent marking its prompt with `cache_control` had the reservation of a 3,000-token input given
 * back down to a handful, every call, so its token windows barely moved however much it sent.
 */
describe('input read from or written to the prompt cache is charged', () => {
  let one: OneProvider;
  let claude: StandIn;
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    one = await oneProvider('cacher', {
      models: {
        budgets: { tokens_per_hour: 1_000_000 },
        aliases: { 'claude-via-openai': { model: 'claude-test', providers: ['claude'] } },
      },
    });
    ({ claude, gw, key } = one);
  }, 60_000);

  afterAll(() => one?.close());

  const call = async (streamed: boolean) => {
    const { status, predicate } = await messagesCall<Predicate>(one, {
      model: 'claude-test',
      max_tokens: 20,
      stream: streamed,
      system: [{ type: 'text', text: 'a long system prompt', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(status).toBe(200);
    return predicate;
  };

  const expectCharged = (predicate: Predicate, input: number) => {
    expect(predicate.outcome).toBe('ok');
    expect(predicate.usage.inputTokens).toBe(input);
    expect(predicate.usage.chargedTokens).toBe(input + predicate.usage.outputTokens);
  };

  it('attack: a whole answer writing 3,000 tokens to the cache is charged them, and one reading them too', async () => {
    claude.queue({
      rawAnswer: anthropicMessage({ input_tokens: 5, cache_creation_input_tokens: CACHED, output_tokens: 3 }),
    });
    expectCharged(await call(false), 5 + CACHED);
    claude.queue({
      rawAnswer: anthropicMessage({ input_tokens: 5, cache_read_input_tokens: CACHED, output_tokens: 3 }),
    });
    expectCharged(await call(false), 5 + CACHED);
  });

  it('attack: a stream reading 3,000 tokens from the cache is charged them, though its final report leaves them out', async () => {
    claude.queue({
      rawStream: anthropicStream(
        { input_tokens: 5, cache_read_input_tokens: CACHED, output_tokens: 1 },
        // The final count of input without the cache's (a provider's cumulative report): the cache's are not lost.
        { input_tokens: 5, output_tokens: 3 },
      ),
    });
    expectCharged(await call(true), 5 + CACHED);
  });

  it('attack: a cache count that is not a whole number is no report: the reservation is charged', async () => {
    claude.queue({
      rawAnswer: anthropicMessage({ input_tokens: 5, cache_read_input_tokens: -3000, output_tokens: 3 }),
    });
    const predicate = await call(false);
    expect(predicate.outcome).toBe('ok');
    expect(predicate.usage.inputTokens).not.toBe(5);
    expect(predicate.usage.outputTokens).toBe(20);
  });

  it('null cache counts (what Anthropic sends when nothing was cached) are none', async () => {
    claude.queue({
      rawAnswer: anthropicMessage({
        input_tokens: 5,
        cache_creation_input_tokens: null,
        cache_read_input_tokens: null,
        output_tokens: 3,
      }),
    });
    expectCharged(await call(false), 5);
  });

  it('an OpenAI client of an Anthropic alias is told the cached input in prompt_tokens, as its receipt counts it, whole and streamed', async () => {
    const openaiCall = async (streamed: boolean) => {
      const answer = await request(new URL('/v1/chat/completions', gw.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({
          model: 'claude-via-openai',
          max_tokens: 20,
          stream: streamed,
          ...(streamed ? { stream_options: { include_usage: true } } : {}),
          messages: [{ role: 'user', content: 'hi' }],
        }),
      });
      const text = await answer.body.text();
      expect(answer.statusCode).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const usage = streamed
        ? (text
            .split('\n')
            .filter((line) => line.startsWith('data: {'))
            .map((line) => JSON.parse(line.slice(6)) as { usage?: { prompt_tokens: number } })
            .find((chunk) => chunk.usage !== undefined)?.usage ?? { prompt_tokens: -1 })
        : (JSON.parse(text) as { usage: { prompt_tokens: number } }).usage;
      const { predicate } = await receiptAt<Predicate>(gw, gw.gateway.services.log.size - 1);
      return { prompt: usage.prompt_tokens, receipt: predicate.usage.inputTokens };
    };
    claude.queue({
      rawAnswer: anthropicMessage({ input_tokens: 5, cache_read_input_tokens: CACHED, output_tokens: 3 }),
    });
    expect(await openaiCall(false)).toEqual({ prompt: 5 + CACHED, receipt: 5 + CACHED });
    claude.queue({
      rawStream: anthropicStream(
        { input_tokens: 5, cache_read_input_tokens: CACHED, output_tokens: 1 },
        { output_tokens: 3 },
      ),
    });
    expect(await openaiCall(true)).toEqual({ prompt: 5 + CACHED, receipt: 5 + CACHED });
  });
});
