import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../service/harness.js';
import { anthropicStream, receiptAt, type TwoProviders, twoProviders } from './model-fixture.js';

interface Predicate {
  readonly outcome: string;
  readonly usage: {
    estimatedInputTokens: number;
    inputTokens: number;
    outputTokens: number;
    chargedTokens?: number;
  };
}

const MAX = 40;
/** 300 fragments of about two tokens each: far past MAX, whatever the tokenizer. */
const FRAGMENTS = Array.from({ length: 300 }, (_, i) => ` w${i}`);

const openaiStream = (delta: (fragment: string, i: number) => Record<string, unknown>) =>
  `${FRAGMENTS.map(
    (fragment, i) =>
      `data: ${JSON.stringify({ id: 's', object: 'chat.completion.chunk', created: 1, model: 'gpt-test', choices: [{ index: 0, delta: delta(fragment, i), finish_reason: null }] })}\n\n`,
  ).join('')}data: [DONE]\n\n`;

/** A block of `fragments`, each its delta, ending with a message_delta that reports no output count: nothing to settle on but what was counted. */
const uncountedStream = (
  block: Record<string, unknown>,
  delta: (fragment: string) => Record<string, unknown>,
  fragments: readonly string[] = FRAGMENTS,
  startUsage: Record<string, number> = { input_tokens: 3 },
) => anthropicStream(startUsage, {}, { block, deltas: fragments.map(delta) });

/**
 * Issue 14 (docs/model-gateway.md, "Budgets": a stream whose provider ignores max_tokens is cut
 * at the budget, and one that reports no usage is charged the output the gateway counted). The
 * gateway counted only a chunk's `delta.content` (and Anthropic's `text` and `partial_json`): a
 * provider streaming tool-call arguments, a refusal or reasoning text past the cap was relayed
 * whole, never cut, and with no usage reported the agent was charged 0 output tokens for it.
 */
describe('stream output that is not message text counts against the cap', () => {
  let providers: TwoProviders;
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    providers = await twoProviders('tool-streamer');
    ({ gw, key } = providers);
  }, 60_000);

  afterAll(() => providers?.close());

  const lastReceipt = async () => {
    await new Promise((resolve) => setTimeout(resolve, 100));
    return (await receiptAt<Predicate>(gw, gw.gateway.services.log.size - 1)).predicate;
  };

  const expectCut = (predicate: Predicate) => {
    expect(predicate.outcome).toBe('cut');
    // What the gateway counted before it cut (past the cap by the hold-back slack), not 0, and not the rest it never read.
    expect(predicate.usage.outputTokens).toBeGreaterThan(MAX);
    expect(predicate.usage.outputTokens).toBeLessThan(FRAGMENTS.length);
    expect(predicate.usage.chargedTokens).toBe(predicate.usage.inputTokens + predicate.usage.outputTokens);
  };

  const openaiCases: [string, (fragment: string, i: number) => Record<string, unknown>][] = [
    [
      'tool_calls arguments',
      (fragment, i) => ({
        tool_calls: [
          {
            index: 0,
            ...(i === 0 ? { id: 'call_1', type: 'function' } : {}),
            function: { ...(i === 0 ? { name: 'f' } : {}), arguments: fragment },
          },
        ],
      }),
    ],
    ['a refusal', (fragment) => ({ refusal: fragment })],
    ['reasoning_content', (fragment) => ({ reasoning_content: fragment })],
  ];
  for (const [what, delta] of openaiCases) {
    it(`attack: an OpenAI stream of ${what} past the cap, with no usage, is cut at the budget and charged what was counted`, async () => {
      providers.openai.queue({ rawStream: openaiStream(delta) });
      const client = new OpenAI({ apiKey: key, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
      const stream = await client.chat.completions.create({
        model: 'gpt-test',
        max_tokens: MAX,
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      });
      let chunks = 0;
      let finish: string | null | undefined;
      for await (const chunk of stream) {
        chunks += 1;
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      expect(finish).toBe('length');
      expect(chunks).toBeLessThan(FRAGMENTS.length);
      expectCut(await lastReceipt());
    });
  }

  const anthropicCases: [string, Record<string, unknown>, (fragment: string) => Record<string, unknown>][] = [
    [
      'thinking',
      { type: 'thinking', thinking: '' },
      (fragment) => ({ type: 'thinking_delta', thinking: fragment }),
    ],
  ];
  for (const [what, block, delta] of anthropicCases) {
    it(`attack: an Anthropic stream of ${what} past the cap, with no output count, is cut at the budget`, async () => {
      providers.claude.queue({ rawStream: uncountedStream(block, delta) });
      const client = new Anthropic({ apiKey: key, baseURL: gw.url.href.replace(/\/$/, ''), maxRetries: 0 });
      const stream = client.messages.stream({
        model: 'claude-test',
        max_tokens: MAX,
        messages: [{ role: 'user', content: 'hi' }],
      });
      let deltas = 0;
      let stop: string | null | undefined;
      for await (const event of stream) {
        if (event.type === 'content_block_delta') deltas += 1;
        if (event.type === 'message_delta') stop = event.delta.stop_reason;
      }
      expect(stop).toBe('max_tokens');
      expect(deltas).toBeLessThan(FRAGMENTS.length);
      expectCut(await lastReceipt());
    });
  }

  it("attack: an Anthropic stream whose only output count is message_start's opening one is charged what the gateway counted, not 1", async () => {
    // Anthropic's message_start carries output_tokens: 1, a running count; the final one comes in
    // message_delta. A provider leaving it out had an answer of up to the cap charged 1 token.
    const words = FRAGMENTS.slice(0, 12);
    providers.claude.queue({
      rawStream: uncountedStream(
        { type: 'text', text: '' },
        (fragment) => ({ type: 'text_delta', text: fragment }),
        words,
        { input_tokens: 3, output_tokens: 1 },
      ),
    });
    const client = new Anthropic({ apiKey: key, baseURL: gw.url.href.replace(/\/$/, ''), maxRetries: 0 });
    const message = await client.messages
      .stream({ model: 'claude-test', max_tokens: MAX, messages: [{ role: 'user', content: 'hi' }] })
      .finalMessage();
    expect(message.content).toEqual(
      [{ type: 'text', text: words.join(''), citations: null }].map(({ type, text }) =>
        expect.objectContaining({ type, text }),
      ),
    );
    const predicate = await lastReceipt();
    expect(predicate.outcome).toBe('ok');
    expect(predicate.usage.outputTokens).toBeGreaterThanOrEqual(words.length);
    expect(predicate.usage.chargedTokens).toBe(predicate.usage.inputTokens + predicate.usage.outputTokens);
  });
});
