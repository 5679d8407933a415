import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../service/harness.js';
import { modelsConfig, putProviderKey, receiptAt } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const PROVIDER_KEY = 'sk-standin-sandbox-secret-9876543210';

const manifest = (name: string, models: string[], quotas: Record<string, number> = {}) => ({
  apiVersion: 'oacp.dev/v1',
  kind: 'CapabilityManifest',
  name,
  capabilities: { models: { allow: models } },
  quotas: { memory_mb: 16, ...quotas },
});

/** The agent's code: one chat call, or calls until refused; what the guest saw comes back as the run's value. */
const CODE = `
async function main(input) {
  const ask = () => oacp.models.chat({ model: input.model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 });
  if (!input.loop) return ask();
  let served = 0;
  for (let i = 0; i < 30; i++) {
    try { await ask(); served += 1; } catch (error) { return { served, refused: String(error && error.message ? error.message : error) }; }
  }
  return { served, refused: null };
}`;

interface ModelReceipt {
  readonly index: number;
  readonly predicate: {
    agent: { did: string };
    outcome: string;
    model: { requested: string; served?: string };
    usage: Record<string, number>;
    policy: { effect: string; reason: string };
  };
  readonly verified: boolean;
  readonly text: string;
}

describe('oacp.models.chat for standard-tier agents (stand-in provider)', () => {
  let provider: StandIn;
  let gw: TestGateway;

  beforeAll(async () => {
    provider = await startStandIn('sandbox');
    gw = await startGateway({
      config: modelsConfig({
        providers: [{ name: 'only', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
        budgets: { tokens_per_hour: 120 },
      }),
    });
    await putProviderKey(gw, 'only', PROVIDER_KEY);
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await provider?.close();
  });

  /** Model-call receipts of `did` logged at or after `from`, each verified offline. */
  async function modelReceipts(from: number, did: string): Promise<ModelReceipt[]> {
    const found: ModelReceipt[] = [];
    for (let index = from; index < gw.gateway.services.log.size; index++) {
      const { predicate, verified, text } = await receiptAt<ModelReceipt['predicate']>(gw, index);
      if (!text.includes('model-call')) continue;
      if ((predicate as { agent?: { did?: string } }).agent?.did !== did) continue;
      found.push({ index, predicate, verified, text });
    }
    return found;
  }

  async function agentWithCode(
    name: string,
    models: string[],
    parent?: string,
    quotas: Record<string, number> = {},
  ) {
    const agent = await gw.client.createAgent({
      name,
      manifest: manifest(name, models, quotas),
      code: CODE,
      ...(parent === undefined ? {} : { parent }),
    });
    await gw.client.startAgent(agent.id);
    return agent;
  }

  it('answers the guest through the model gateway, injects the vault key upstream only, and receipts the call', async () => {
    const agent = await agentWithCode('chatter', ['gpt-test']);
    const from = gw.gateway.services.log.size;
    const before = provider.received.length;
    const run = await gw.client.runAgent(agent.id, { input: { model: 'gpt-test' } });
    const completion = run.value as OpenAI.Chat.Completions.ChatCompletion;
    expect(completion.choices[0]?.message.content).toContain('stand-in provider');
    expect(completion.usage?.prompt_tokens).toBe(11);
    // The provider got the vault's key; the guest's answer and the receipt never carry it.
    expect(provider.received.length).toBe(before + 1);
    expect(provider.received.at(-1)?.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(JSON.stringify(run)).not.toContain(PROVIDER_KEY);
    const receipts = await modelReceipts(from, agent.id);
    expect(receipts).toHaveLength(1);
    const [receipt] = receipts;
    expect(receipt?.verified).toBe(true);
    expect(receipt?.predicate.outcome).toBe('ok');
    expect(receipt?.predicate.model.requested).toBe('gpt-test');
    expect(receipt?.predicate.usage.outputTokens).toBeGreaterThan(0);
    expect(receipt?.predicate.policy.effect).toBe('allow');
    expect(receipt?.text).not.toContain(PROVIDER_KEY);
  });

  it('refuses a model outside the manifest before anything is sent, with a verified deny receipt', async () => {
    const agent = await agentWithCode('narrow', ['gpt-test']);
    const from = gw.gateway.services.log.size;
    const before = provider.received.length;
    const run = await gw.client.runAgent(agent.id, { input: { model: 'gpt-secret', loop: true } });
    const value = run.value as { served: number; refused: string };
    expect(value.served).toBe(0);
    expect(value.refused).toMatch(/HTTP 403.*not in the agent's capabilities\.models\.allow.*receipt \d+/);
    expect(provider.received.length).toBe(before);
    const receipts = await modelReceipts(from, agent.id);
    expect(receipts).toHaveLength(1);
    expect(receipts[0]?.verified).toBe(true);
    expect(receipts[0]?.predicate.outcome).toBe('denied');
    expect(receipts[0]?.predicate.policy.effect).toBe('deny');
  });

  it("counts model calls against the sandbox's api_calls_per_hour: a guest cannot flood the log with refusals", async () => {
    const agent = await agentWithCode('flooder', ['gpt-test'], undefined, {
      api_calls_per_hour: 3,
      burst: 0,
    });
    const from = gw.gateway.services.log.size;
    const run = await gw.client.runAgent(agent.id, { input: { model: 'gpt-denied', loop: true } });
    expect(run.value).toMatchObject({ served: 0, refused: expect.stringMatching(/HTTP 403/) });
    const again = await gw.client.runAgent(agent.id, {
      code: `Promise.allSettled([1, 2, 3, 4].map(() => oacp.models.chat({ model: 'gpt-denied', messages: [] }))).then((all) => all.map((r) => String(r.reason && r.reason.message)))`,
    });
    const reasons = again.value as string[];
    expect(reasons.filter((reason) => /api_calls_per_hour/.test(reason))).toHaveLength(2);
    expect(await modelReceipts(from, agent.id)).toHaveLength(3);
  });

  it('gives no oacp.models to an agent whose manifest allows no model', async () => {
    const agent = await gw.client.createAgent({ name: 'modelless', manifest: manifest('modelless', []) });
    await gw.client.startAgent(agent.id);
    expect((await gw.client.runAgent(agent.id, { code: 'typeof oacp.models' })).value).toBe('undefined');
  });

  it('refuses a streamed request from a guest: the binding answers whole completions only', async () => {
    const agent = await agentWithCode('streamy', ['gpt-test']);
    const before = provider.received.length;
    const run = await gw.client.runAgent(agent.id, {
      code: `oacp.models.chat({ model: 'gpt-test', stream: true, messages: [] }).then(() => 'sent', (e) => String(e.message))`,
    });
    expect(run.value).toMatch(/does not stream/);
    expect(provider.received.length).toBe(before);
  });

  it('spends a child agent from its parent: the child is cut at the lineage budget, then the parent is refused too', async () => {
    const parent = await agentWithCode('elder', ['gpt-test']);
    const child = await agentWithCode('younger', ['gpt-test'], parent.id);
    const from = gw.gateway.services.log.size;
    const run = await gw.client.runAgent(child.id, { input: { model: 'gpt-test', loop: true } });
    const value = run.value as { served: number; refused: string | null };
    // 120 tokens an hour; each call settles at 11 input + 10 output (the last one clamped).
    expect(value.served).toBe(6);
    expect(value.refused).toMatch(/HTTP 429.*tokens_per_hour.*receipt \d+/);
    const receipts = await modelReceipts(from, child.id);
    expect(receipts.map((r) => r.predicate.outcome)).toEqual([...Array(6).fill('ok'), 'quota']);
    expect(receipts.every((r) => r.verified)).toBe(true);
    // The parent spent nothing itself, yet its budget is gone.
    const parentRun = await gw.client.runAgent(parent.id, { input: { model: 'gpt-test', loop: true } });
    expect(parentRun.value).toMatchObject({ served: 0, refused: expect.stringMatching(/HTTP 429/) });
  });
});
