import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../mcp/raw-harness.js';
import { startGateway, type TestGateway } from '../service/harness.js';
import { modelAgent, modelsConfig, putProviderKey, receiptAt } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

interface Predicate {
  readonly agent: { did: string };
  readonly outcome: string;
  readonly reason?: string;
  readonly stream: boolean;
  readonly usage: {
    reservedTokens: number;
    inputTokens: number;
    outputTokens: number;
    chargedTokens?: number;
  };
}

const DAY = 1_000_000;

/**
 * Issue 14 ("a streamed answer is cut… one receipt", "a crash never leaves a budget credited back
 * without a record"): the official openai client aborts a stream after a few chunks. The gateway
 * stops reading the provider (its connection is let go), writes exactly one receipt saying the
 * stream was cut, and settles the budget on what was counted: not the whole reservation kept, not
 * nothing charged.
 */
describe('a client that aborts a stream in the middle', () => {
  let provider: StandIn;
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    provider = await startStandIn('slow');
    gw = await startGateway({
      config: modelsConfig({
        providers: [{ name: 'slow', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
        budgets: { tokens_per_day: DAY },
      }),
    });
    key = (await modelAgent(gw, 'aborter', ['*'])).key;
    await putProviderKey(gw, 'slow', 'sk-slow-0123456789');
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await provider?.close();
  });

  it('attack: abort after three chunks: one receipt (cut), the provider let go, the budget charged what was counted', async () => {
    const before = gw.gateway.services.log.size;
    provider.queue('slow-stream');
    const client = new OpenAI({ apiKey: key, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'gpt-test', stream: true, max_tokens: 1000, messages: [{ role: 'user', content: 'hi' }] },
      { signal: controller.signal },
    );
    let chunks = 0;
    // The SDK ends the iteration (or throws, by version) once aborted: either way the client is gone.
    try {
      for await (const _chunk of stream) {
        chunks += 1;
        if (chunks === 3) controller.abort();
      }
    } catch {}
    expect(chunks).toBeLessThan(10);
    await eventually(() => provider.abandoned() === 1, 'the gateway to let the provider go');
    await eventually(() => gw.gateway.services.log.size === before + 1, 'the receipt');
    // No second receipt follows.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(gw.gateway.services.log.size).toBe(before + 1);
    const { predicate, verified } = await receiptAt<Predicate>(gw, before);
    expect(verified).toBe(true);
    expect(predicate.stream).toBe(true);
    expect(predicate.outcome).toBe('cut');
    expect(predicate.reason).toBeDefined();
    // Charged what was counted (a few words), far below the 1000-token reservation, and more than 0.
    const charged = predicate.usage.chargedTokens ?? -1;
    expect(predicate.usage.outputTokens).toBeGreaterThanOrEqual(1);
    expect(predicate.usage.outputTokens).toBeLessThan(200);
    expect(charged).toBe(predicate.usage.inputTokens + predicate.usage.outputTokens);
    expect(charged).toBeLessThan(predicate.usage.reservedTokens);
    const models = gw.gateway.services.models;
    const left = await models?.gateway.budget.remainingTokens([predicate.agent.did]);
    expect(left).toBeLessThanOrEqual(DAY - charged + 50);
    expect(left).toBeGreaterThanOrEqual(DAY - charged);
  });
});
