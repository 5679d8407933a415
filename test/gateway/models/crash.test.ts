import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { StoreQuotaEngine } from '../../../src/airlock/quota/store-engine.js';
import { OacpClient } from '../../../src/client/index.js';
import { ApiKeys } from '../../../src/gateway/apikeys/api-keys.js';
import { ModelBudget } from '../../../src/gateway/models/budget.js';
import { defaultStorePath, openStore } from '../../../src/store/open-store.js';
import { adminKey, type ChildGateway, startChild } from '../service/child-gateway.js';
import { freshHome } from '../service/node-home.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const HOUR = 3_600_000;
const BUDGET = 5000;

/** Tokens taken from the agent's hourly model bucket over its life, refunds subtracted. */
async function usedTokens(home: string, agent: string): Promise<number> {
  const store = await openStore(defaultStorePath(home));
  try {
    const engine = new StoreQuotaEngine(store);
    const shape = { capacity: BUDGET, refill: BUDGET, windowMs: HOUR };
    return (await engine.usage(ModelBudget.key(agent, 'llm_tokens_per_hour'), shape)).used;
  } finally {
    await store.close();
  }
}

/**
 * A model call's budget is reserved in the store before the provider is
 * asked; if the gateway dies (kill -9) before settling, the whole
 * reservation stays spent after a restart: a crash never credits a budget
 * back without a record.
 */
describe('model budget across kill -9 between reservation and settlement', () => {
  const cleanup: Array<() => void | Promise<void>> = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('keeps the reservation of an unsettled call after the gateway is killed and restarted', async () => {
    const provider: StandIn = await startStandIn('slow');
    cleanup.push(() => provider.close());
    const home = await freshHome('oacp-model-crash-');
    cleanup.push(home.remove);
    const config = join(home.home, 'oacp.yaml');
    writeFileSync(
      config,
      stringify({
        sandbox: { capabilities: { tools: { allow: [] }, models: { allow: ['*'] } } },
        models: {
          providers: [{ name: 'slow', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
          budgets: { tokens_per_hour: BUDGET },
        },
      }),
    );
    const admin = await adminKey(home.home);
    let child: ChildGateway = await startChild(home.home, config, home.env);
    cleanup.push(() => {
      child.process.kill('SIGKILL');
    });
    const client = new OacpClient({ baseUrl: child.url, apiKey: admin });
    const agent = await client.createAgent({
      name: 'spender',
      manifest: {
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name: 'spender',
        capabilities: { models: { allow: ['*'] } },
      },
    });
    const store = await openStore(defaultStorePath(home.home));
    const agentKey = (await new ApiKeys({ store }).create({ scopes: ['models:call'], agentId: agent.id }))
      .key;
    await store.close();

    provider.queue('slow');
    const call = (url: URL) =>
      fetch(new URL('/v1/chat/completions', url), {
        method: 'POST',
        headers: { authorization: `Bearer ${agentKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hello' }], max_tokens: 300 }),
      });
    const inFlight = call(child.url).catch(() => undefined);
    for (let i = 0; i < 200 && provider.received.length === 0; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(provider.received).toHaveLength(1);
    child.process.kill('SIGKILL');
    await child.exited;
    await inFlight;
    const reserved = await usedTokens(home.home, agent.id);
    // The input estimate plus the whole output cap, never settled.
    expect(reserved).toBeGreaterThan(300);

    child = await startChild(home.home, config, home.env);
    const answer = await call(child.url);
    expect(answer.status).toBe(200);
    const after = await usedTokens(home.home, agent.id);
    // The new call settled at its real usage (11 input + 10 output); the crashed one still holds its reservation.
    expect(after).toBe(reserved + 21);
  }, 120_000);
});
