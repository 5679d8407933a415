import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_INPUT_TOKENS } from '../../../src/gateway/models/tokens.js';
import type { TestGateway } from '../service/harness.js';
import { receiptAt, type TwoProviders, twoProviders } from './model-fixture.js';

const LIMIT = 4000;
const linked = (i: number) => `https://images.example/${i}.png`;

/**
 * Issue 14 ("per request: pre-flight count"; docs/model-gateway.md, "Budgets"). An image linked
 * by URL counted as the few tokens of its URL, while the provider bills it by its pixels (up to
 * ~1,600 tokens each): ten linked images passed an llm_tokens_per_request of 4,000 as ~200 tokens
 * and reached the provider, to be billed ~16,000, and a single call could run a window's budget
 * far past its end. An image part now counts at least IMAGE_INPUT_TOKENS.
 */
describe('images in a request count against llm_tokens_per_request', () => {
  let providers: TwoProviders;
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    providers = await twoProviders('looker', { llm_tokens_per_request: LIMIT });
    ({ gw, key } = providers);
  }, 60_000);

  afterAll(() => providers?.close());

  const post = async (path: string, body: unknown) => {
    const answer = await request(new URL(path, gw.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-api-key': key },
      body: JSON.stringify(body),
    });
    return {
      status: answer.statusCode,
      quota: answer.headers['oacp-quota'],
      receipt: Number(answer.headers['oacp-receipt']),
      text: await answer.body.text(),
    };
  };
  const openaiImages = (count: number) => ({
    model: 'gpt-test',
    max_tokens: 8,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'what is in these?' },
          ...Array.from({ length: count }, (_, i) => ({ type: 'image_url', image_url: { url: linked(i) } })),
        ],
      },
    ],
  });
  const anthropicImages = (count: number) => ({
    model: 'claude-test',
    max_tokens: 8,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'what is in these?' },
          ...Array.from({ length: count }, (_, i) => ({
            type: 'image',
            source: { type: 'url', url: linked(i) },
          })),
        ],
      },
    ],
  });

  const openaiFiles = (count: number) => ({
    model: 'gpt-test',
    max_tokens: 8,
    messages: [
      {
        role: 'user',
        content: Array.from({ length: count }, (_, i) => ({ type: 'file', file: { file_id: `file-${i}` } })),
      },
    ],
  });
  const anthropicDocuments = (count: number) => ({
    model: 'claude-test',
    max_tokens: 8,
    messages: [
      {
        role: 'user',
        content: Array.from({ length: count }, (_, i) => ({
          type: 'document',
          source: { type: 'url', url: `https://docs.example/${i}.pdf` },
        })),
      },
    ],
  });

  for (const [format, path, body, provider] of [
    ['OpenAI image_url parts', '/v1/chat/completions', openaiImages, () => providers.openai],
    ['Anthropic image blocks', '/v1/messages', anthropicImages, () => providers.claude],
    ['OpenAI file parts (PDF by file id)', '/v1/chat/completions', openaiFiles, () => providers.openai],
    ['Anthropic document blocks (PDF by URL)', '/v1/messages', anthropicDocuments, () => providers.claude],
  ] as const) {
    it(`attack: ten linked ${format} are refused (429, the quota named) and never reach the provider`, async () => {
      const sent = provider().received.length;
      const answer = await post(path, body(10));
      expect(answer.status).toBe(429);
      expect(answer.quota).toBe('agent.llm_tokens_per_request');
      expect(answer.text).toMatch(/llm_tokens_per_request/);
      expect(provider().received.length).toBe(sent);
      const { predicate } = await receiptAt<{ outcome: string; usage: { estimatedInputTokens: number } }>(
        gw,
        answer.receipt,
      );
      expect(predicate.usage.estimatedInputTokens).toBeGreaterThanOrEqual(10 * IMAGE_INPUT_TOKENS);
    });

    it(`one linked image of the ${format} goes through, counted as an image`, async () => {
      const answer = await post(path, body(1));
      expect(answer.status).toBe(200);
      const { predicate } = await receiptAt<{ outcome: string; usage: { estimatedInputTokens: number } }>(
        gw,
        answer.receipt,
      );
      expect(predicate.outcome).toBe('ok');
      expect(predicate.usage.estimatedInputTokens).toBeGreaterThanOrEqual(IMAGE_INPUT_TOKENS);
      expect(predicate.usage.estimatedInputTokens).toBeLessThan(2 * IMAGE_INPUT_TOKENS);
    });
  }
});
