import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../service/harness.js';
import { type FailoverPair, failoverPair, receiptAt } from './model-fixture.js';
import type { StandIn } from './stand-in-provider.js';

interface Predicate {
  readonly agent: { did: string };
  readonly outcome: string;
  readonly costUsd?: number;
  readonly usage: {
    inputTokens: number;
    outputTokens: number;
    reservedTokens: number;
    chargedTokens?: number;
  };
  readonly attempts: ReadonlyArray<{
    provider: string;
    status: number;
    error?: string;
    billed?: {
      inputTokens: number;
      outputTokens: number;
      serviceTier?: { requested?: string; served?: string; multiplier: number };
    };
  }>;
}

const DAY = 1_000_000;
/** A 200 that is no chat answer (no `choices`) but reports what the provider billed for it. */
const BILLED_NON_ANSWER = {
  rawAnswer: '{"id":"x","object":"chat.completion","usage":{"prompt_tokens":1000,"completion_tokens":500}}',
};

/**
 * Issue 14 ("budgets that cannot be overrun", "settled on the provider's reported usage"): a 200
 * the gateway judges unusable (answer-shape.ts) is failed over, but the provider billed it. It was
 * charged nothing, so an agent whose provider answered so could spend without limit. Now the
 * usage it reported is charged beside the answer's, and the receipt lists it on that try
 * (`attempts[].billed`) and in `chargedTokens` and `costUsd` (docs/receipts.md).
 */
describe('a 2xx judged unusable and failed over is charged what the provider billed', () => {
  let pair: FailoverPair;
  let primary: StandIn;
  let backup: StandIn;
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    pair = await failoverPair('billed', {
      aliases: { tiered: { model: 'gpt-upstream', providers: ['primary', 'backup'] } },
      prices: {
        fast: { input_per_mtok: 1, output_per_mtok: 2 },
        tiered: { input_per_mtok: 1, output_per_mtok: 2, service_tiers: { flex: 0.5, priority: 2 } },
      },
      budgets: { tokens_per_day: DAY },
      breaker: { failures: 1000, cooldown_ms: 400 },
    });
    ({ primary, backup, gw, key } = pair);
  }, 60_000);

  afterAll(() => pair?.close());

  const chat = (model = 'fast') =>
    request(new URL('/v1/chat/completions', gw.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 }),
    });

  const remaining = (did: string) =>
    gw.gateway.services.models?.gateway.budget.remainingTokens([did]) ?? Promise.resolve(Number.NaN);

  it('attack: a billed non-answer, then an answer from the backup: both charged, the billed try named in the receipt', async () => {
    primary.queue(BILLED_NON_ANSWER);
    const answer = await chat();
    await answer.body.text();
    expect(answer.statusCode).toBe(200);
    const receipt = await receiptAt<Predicate>(gw, Number(answer.headers['oacp-receipt']));
    expect(receipt.verified).toBe(true);
    const { predicate } = receipt;
    expect(predicate.outcome).toBe('ok');
    expect(predicate.attempts).toMatchObject([
      { provider: 'primary', status: 200, billed: { inputTokens: 1000, outputTokens: 500 } },
      { provider: 'backup', status: 200 },
    ]);
    expect(predicate.attempts[1]?.billed).toBeUndefined();
    const served = predicate.usage.inputTokens + predicate.usage.outputTokens;
    expect(predicate.usage.chargedTokens).toBe(served + 1500);
    // 1 USD per Mtok in, 2 out: the billed try alone costs 0.002 USD.
    expect(predicate.costUsd).toBeGreaterThanOrEqual(0.002);
    // The budget was charged it (a day's budget refills about 12 tokens a second: a margin for that).
    const left = await remaining(predicate.agent.did);
    expect(left).toBeLessThanOrEqual(DAY - served - 1500 + 50);
  });

  it('attack: billed non-answers at every provider: a 502, and both tries charged as billed, not 0', async () => {
    primary.queue(BILLED_NON_ANSWER);
    backup.queue(BILLED_NON_ANSWER);
    const answer = await chat();
    await answer.body.text();
    expect(answer.statusCode).toBe(502);
    const { predicate } = await receiptAt<Predicate>(gw, Number(answer.headers['oacp-receipt']));
    expect(predicate.outcome).toBe('failed');
    expect(predicate.attempts.map((attempt) => attempt.billed)).toEqual([
      { inputTokens: 1000, outputTokens: 500 },
      { inputTokens: 1000, outputTokens: 500 },
    ]);
    expect(predicate.usage.chargedTokens).toBe(3000);
    expect(predicate.costUsd).toBeCloseTo(0.004, 6);
  });

  it('a 200 with an error body and no usage is charged nothing for that try', async () => {
    primary.queue({ rawAnswer: '{"error":{"message":"overloaded"}}' });
    backup.queue({ rawAnswer: '{"error":{"message":"overloaded"}}' });
    const answer = await chat();
    await answer.body.text();
    expect(answer.statusCode).toBe(502);
    const { predicate } = await receiptAt<Predicate>(gw, Number(answer.headers['oacp-receipt']));
    expect(predicate.attempts.every((attempt) => attempt.billed === undefined)).toBe(true);
    expect(predicate.usage.chargedTokens).toBe(0);
    expect(predicate.costUsd).toBe(0);
  });

  it('billed tries are settled each at the service tier its body names, not at the reserved (dearest) one', async () => {
    // No service_tier asked: reserved at the dearest tier priced (priority, 2x). The provider billed
    // one try at flex (0.5x) and one at its standard tier (1x): 0.001 + 0.002 USD, not 2 x 0.004.
    const billedAt = (tier: string) => ({
      rawAnswer: `{"id":"x","object":"chat.completion","service_tier":"${tier}","usage":{"prompt_tokens":1000,"completion_tokens":500}}`,
    });
    primary.queue(billedAt('flex'));
    backup.queue(billedAt('default'));
    const answer = await chat('tiered');
    await answer.body.text();
    expect(answer.statusCode).toBe(502);
    const { predicate } = await receiptAt<Predicate>(gw, Number(answer.headers['oacp-receipt']));
    expect(predicate.usage.chargedTokens).toBe(3000);
    expect(predicate.costUsd).toBeCloseTo(0.003, 6);
    // Each try's entry says the tier it was billed at: the receipt alone shows why 0.003, not 0.008.
    expect(predicate.attempts.map((attempt) => attempt.billed?.serviceTier)).toEqual([
      { served: 'flex', multiplier: 0.5 },
      { served: 'default', multiplier: 1 },
    ]);
  });

  it('a billed try naming no tier is settled at the reserved multiplier, as an answer naming none is', async () => {
    primary.queue(BILLED_NON_ANSWER);
    const answer = await chat('tiered');
    await answer.body.text();
    expect(answer.statusCode).toBe(200);
    const { predicate } = await receiptAt<Predicate>(gw, Number(answer.headers['oacp-receipt']));
    // The billed try at priority (2x): 0.004 USD; the backup's answer names no tier either (2x).
    expect(predicate.attempts[0]?.billed?.serviceTier).toEqual({ multiplier: 2 });
    const served = predicate.usage.inputTokens * 1 + predicate.usage.outputTokens * 2;
    expect(predicate.costUsd).toBeCloseTo((4000 + served * 2) / 1e6, 6);
  });
});
