import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../service/harness.js';
import { modelAgent, modelsConfig, putProviderKey, receiptAt } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const WINDOW = 300;

/**
 * Issue 14 (docs/model-gateway.md, "Budgets": a request for `n` answers reserves `n` times its
 * cap). A batch reserved each item's input and one answer's cap only, while the item, drawing
 * from the batch's reservation, needs `n` of them: every item asking for more than one answer
 * was refused (429 models.batch) though the budget had room, and a batch whose answers could not
 * fit the window was reserved and run anyway, its items then refused one by one.
 */
describe('batch items asking for n answers', () => {
  let provider: StandIn;
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    provider = await startStandIn('choices');
    gw = await startGateway({
      config: modelsConfig({
        providers: [{ name: 'only', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
        budgets: { tokens_per_hour: WINDOW },
      }),
    });
    key = (await modelAgent(gw, 'chooser', ['*'])).key;
    await putProviderKey(gw, 'only', 'sk-choices-0123456789');
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await provider?.close();
  });

  const batch = async (n: number, maxTokens: number) => {
    const answer = await request(new URL('/v1/oacp/batches', gw.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({
        endpoint: '/v1/chat/completions',
        requests: [
          {
            custom_id: 'only',
            body: {
              model: 'gpt-test',
              n,
              max_tokens: maxTokens,
              messages: [{ role: 'user', content: 'hi' }],
            },
          },
        ],
      }),
    });
    return {
      status: answer.statusCode,
      quota: answer.headers['oacp-quota'],
      json: (await answer.body.json()) as { results?: Array<{ status: number; receipt: number }> },
    };
  };

  it('an item for 3 answers of 10 tokens, well within the window, is answered', async () => {
    const answer = await batch(3, 10);
    expect(answer.status).toBe(200);
    const [result] = answer.json.results ?? [];
    expect(result?.status).toBe(200);
    const { predicate } = await receiptAt<{
      outcome: string;
      usage: { reservedTokens: number; estimatedInputTokens: number };
    }>(gw, result?.receipt ?? -1);
    expect(predicate.outcome).toBe('ok');
    expect(predicate.usage.reservedTokens).toBe(predicate.usage.estimatedInputTokens + 30);
  });

  it('attack: an item whose 3 answers cannot fit the window refuses the batch whole: 429 naming the window, nothing sent', async () => {
    const sent = provider.received.length;
    // One answer of 90 fits the window of 300; three do not.
    const answer = await batch(3, 90);
    expect(answer.status).toBe(429);
    expect(answer.quota).toBe('models.budgets.tokens_per_hour');
    expect(provider.received.length).toBe(sent);
  });
});
