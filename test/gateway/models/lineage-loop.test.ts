import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../service/harness.js';
import { modelAgent, modelsConfig, putProviderKey, receiptAt } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

/**
 * Issue 14 (budgets never overrun, nor charged twice): a loop of parents in the store (edited by
 * hand or restored badly; the registry never makes one) made the lineage list each agent up to
 * 32 times, each of its budgets reserved that many times on every call: a call well within the
 * budget was refused. The lineage ends at the first agent seen again.
 */
describe('a lineage whose parents form a loop', () => {
  let provider: StandIn;
  let gw: TestGateway;

  beforeAll(async () => {
    provider = await startStandIn('looped');
    gw = await startGateway({
      config: modelsConfig({
        providers: [{ name: 'looped', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
        budgets: { tokens_per_hour: 400 },
      }),
    });
    await putProviderKey(gw, 'looped', 'sk-looped-provider-key-0123456789');
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await provider?.close();
  });

  it("attack: parent and child made each other's parent: a call within budget is answered, and charged once to each", async () => {
    const parent = await modelAgent(gw, 'loop-parent', ['*']);
    const child = await gw.client.createAgent({
      name: 'loop-child',
      manifest: {
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name: 'loop-child',
        capabilities: { models: { allow: ['*'] } },
        quotas: { memory_mb: 16 },
      },
      parent: parent.agentId,
    });
    await gw.gateway.store.sql.run('UPDATE agents SET parent_id = ? WHERE id = ?', [
      child.id,
      parent.agentId,
    ]);
    // The directory keeps records for a second (registry-directory.ts): past it, the loop is read.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect((await gw.client.getAgent(parent.agentId)).parentId).toBe(child.id);
    const key = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: child.id })).key;
    const call = async () => {
      const answer = await request(new URL('/v1/chat/completions', gw.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({
          model: 'gpt-test',
          messages: [{ role: 'user', content: 'hi' }],
          max_tokens: 8,
        }),
      });
      await answer.body.text();
      return answer;
    };
    const first = await call();
    expect(first.statusCode).toBe(200);
    const receipt = await receiptAt<{ usage: { chargedTokens: number } }>(
      gw,
      Number(first.headers['oacp-receipt']),
    );
    // Each further call fits too while the hour's 400 tokens last, counted once per agent.
    const fit = Math.floor(400 / receipt.predicate.usage.chargedTokens) - 1;
    for (let i = 0; i < Math.min(fit, 5); i++) expect((await call()).statusCode).toBe(200);
  });
});
