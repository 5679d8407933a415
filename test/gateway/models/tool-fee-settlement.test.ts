import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  anthropicMessage,
  anthropicStream,
  messagesCall,
  type OneProvider,
  oneProvider,
} from './model-fixture.js';

interface Predicate {
  readonly outcome: string;
  readonly costUsd?: number;
  readonly usage: {
    inputTokens: number;
    outputTokens: number;
    reservedTokens: number;
    chargedTokens?: number;
    notReported?: string[];
  };
  readonly toolFees?: ReadonlyArray<{ type: string; maxUses: number; uses: number; basis: string }>;
  readonly attempts: ReadonlyArray<{ provider: string; status: number; billed?: unknown }>;
}

const SEARCH = 'web_search_20250305';
const searched = (uses: number | null) => ({
  input_tokens: 10,
  output_tokens: 5,
  server_tool_use: uses === null ? null : { web_search_requests: uses, web_fetch_requests: 0 },
});

/**
 * Issue 14 item 1 and 2 (docs/model-gateway.md, "Provider-side tools"): a web search priced per use
 * was charged at the request's max_uses whatever the provider ran, though Anthropic reports the
 * searches it ran (`usage.server_tool_use.web_search_requests`); and an answer refusing the call
 * without usage (a 4xx) was charged the whole reservation and every search it allowed. The fee is
 * now reserved at max_uses and settled on the reported uses (the maximum only where none is
 * reported); a refusal without usage costs nothing; the receipt says which (`toolFees`, `usage.notReported`).
 */
describe('provider tool fees are settled on the uses the provider reports', () => {
  let one: OneProvider;

  beforeAll(async () => {
    one = await oneProvider('searcher', {
      providerTools: ['web_search_*'],
      backup: true,
      models: {
        prices: {
          'claude-test': { input_per_mtok: 0, output_per_mtok: 0, per_use_usd: { [SEARCH]: 0.01 } },
          'claude-failover': { input_per_mtok: 0, output_per_mtok: 0, per_use_usd: { [SEARCH]: 0.01 } },
        },
        budgets: { cost_per_day_usd: 10, tokens_per_day: 1_000_000 },
      },
    });
  }, 60_000);

  afterAll(async () => {
    await one?.close();
  });

  const call = async (options: { stream?: boolean; model?: string } = {}) => {
    const { status, predicate, verified } = await messagesCall<Predicate>(one, {
      model: options.model ?? 'claude-test',
      max_tokens: 20,
      stream: options.stream === true,
      tools: [{ type: SEARCH, name: 'web_search', max_uses: 3 }],
      messages: [{ role: 'user', content: 'search' }],
    });
    expect(verified).toBe(true);
    return { status, predicate };
  };

  it('attack: a whole answer that ran 1 of 3 allowed searches is charged 1 (0.01 USD), not 3; the receipt says reported', async () => {
    one.claude.queue({ rawAnswer: anthropicMessage(searched(1)) });
    const { status, predicate } = await call();
    expect(status).toBe(200);
    expect(predicate.costUsd).toBeCloseTo(0.01, 9);
    expect(predicate.toolFees).toEqual([{ type: SEARCH, maxUses: 3, uses: 1, basis: 'reported' }]);
    expect(predicate.usage.notReported).toBeUndefined();
  });

  it('attack: a stream whose message_delta reports 2 searches is charged 2 (0.02 USD)', async () => {
    one.claude.queue({ rawStream: anthropicStream({ ...searched(null), output_tokens: 1 }, searched(2)) });
    const { status, predicate } = await call({ stream: true });
    expect(status).toBe(200);
    expect(predicate.outcome).toBe('ok');
    expect(predicate.costUsd).toBeCloseTo(0.02, 9);
    expect(predicate.toolFees).toEqual([{ type: SEARCH, maxUses: 3, uses: 2, basis: 'reported' }]);
  });

  it('server_tool_use null (Anthropic: no server tool ran) is 0 searches, reported', async () => {
    one.claude.queue({ rawAnswer: anthropicMessage(searched(null)) });
    const { predicate } = await call();
    expect(predicate.costUsd).toBe(0);
    expect(predicate.toolFees).toEqual([{ type: SEARCH, maxUses: 3, uses: 0, basis: 'reported' }]);
  });

  it('attack: a count of searches past max_uses is held to max_uses (the provider enforces it)', async () => {
    one.claude.queue({ rawAnswer: anthropicMessage(searched(1_000_000)) });
    const { predicate } = await call();
    expect(predicate.costUsd).toBeCloseTo(0.03, 9);
    expect(predicate.toolFees).toEqual([{ type: SEARCH, maxUses: 3, uses: 3, basis: 'reported' }]);
  });

  it('a usage report without server_tool_use (a proxy leaving it out) is charged the maximum, and says so', async () => {
    one.claude.queue({ rawAnswer: anthropicMessage({ input_tokens: 10, output_tokens: 5 }) });
    const { predicate } = await call();
    expect(predicate.costUsd).toBeCloseTo(0.03, 9);
    expect(predicate.toolFees).toEqual([{ type: SEARCH, maxUses: 3, uses: 3, basis: 'maximum' }]);
  });

  it('a stream cut short keeps the maximum: its last count may predate searches it ran', async () => {
    const whole = anthropicStream({ ...searched(0), output_tokens: 1 }, searched(0));
    one.claude.queue({ rawStream: whole.slice(0, whole.indexOf('event: message_delta')) });
    const { predicate } = await call({ stream: true });
    expect(predicate.outcome).toBe('failed');
    expect(predicate.toolFees).toEqual([{ type: SEARCH, maxUses: 3, uses: 3, basis: 'maximum' }]);
    expect(predicate.costUsd).toBeCloseTo(0.03, 9);
  });

  it('attack: a 400 refusal without usage is charged nothing (no tokens, no searches); the receipt says usage was not reported', async () => {
    one.claude.queue({
      status: 400,
      rawAnswer: '{"type":"error","error":{"type":"invalid_request_error","message":"bad tool"}}',
    });
    const { status, predicate } = await call();
    expect(status).toBe(400);
    expect(predicate.outcome).toBe('failed');
    expect(predicate.usage.reservedTokens).toBeGreaterThan(0);
    expect(predicate.usage.chargedTokens).toBe(0);
    expect(predicate.usage).toMatchObject({ inputTokens: 0, outputTokens: 0 });
    expect(predicate.usage.notReported).toEqual(['inputTokens', 'outputTokens']);
    expect(predicate.costUsd).toBe(0);
    expect(predicate.toolFees).toEqual([{ type: SEARCH, maxUses: 3, uses: 0, basis: 'refused' }]);
  });

  it('attack: failed over from a 500 (no usage): the refused try costs nothing, the answer its one reported search', async () => {
    one.claude.queue('500', { rawAnswer: anthropicMessage(searched(1)) });
    const { status, predicate } = await call({ model: 'claude-failover' });
    expect(status).toBe(200);
    expect(predicate.attempts).toMatchObject([
      { provider: 'claude', status: 500 },
      { provider: 'claude-backup', status: 200 },
    ]);
    expect(predicate.costUsd).toBeCloseTo(0.01, 9);
    expect(predicate.usage.chargedTokens).toBe(15);
  });

  it('attack: a billed try failed over and the answer each pay their own reported searches, not one maximum', async () => {
    // A 200 with usage but no content (answer-shape.ts: not a Messages answer): billed, failed over.
    const billed = JSON.stringify({ type: 'message', usage: searched(2) });
    one.claude.queue({ rawAnswer: billed }, { rawAnswer: anthropicMessage(searched(0)) });
    const { status, predicate } = await call({ model: 'claude-failover' });
    expect(status).toBe(200);
    expect(predicate.attempts[0]?.billed).toEqual({ inputTokens: 10, outputTokens: 5 });
    expect(predicate.costUsd).toBeCloseTo(0.02, 9);
    expect(predicate.toolFees).toEqual([{ type: SEARCH, maxUses: 3, uses: 0, basis: 'reported' }]);
  });
});
