import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreQuotaEngine } from '../../../src/airlock/quota/store-engine.js';
import { ManifestSchema } from '../../../src/capability/manifest.js';
import { GatewayMetrics } from '../../../src/gateway/observability/gateway-metrics.js';
import { type GatewayQuotaOptions, GatewayQuotas } from '../../../src/gateway/runtime/quotas.js';
import { openStore } from '../../../src/store/open-store.js';

const dir = mkdtempSync(join(tmpdir(), 'oacp-gw-quotas-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const manifest = ManifestSchema.parse({
  apiVersion: 'oacp.dev/v1',
  kind: 'CapabilityManifest',
  name: 'w',
  quotas: { api_calls_per_hour: 100, burst: 0 },
});
const agent = { did: 'did:key:z6Mkquota', name: 'w' };

async function gateway(path: string, options: GatewayQuotaOptions) {
  const store = await openStore(path);
  return {
    store,
    quotas: new GatewayQuotas(options, new GatewayMetrics('test'), new StoreQuotaEngine(store)),
  };
}

describe('GatewayQuotas on the quota engine', () => {
  it("charges an MCP server's quota_calls per agent, shared by two gateways on one store file", async () => {
    const path = join(dir, 'shared.db');
    const options = { servers: { memory: 3 } };
    const [one, two] = [await gateway(path, options), await gateway(path, options)];
    const call = { agent, manifest, tool: 'memory__read_graph', server: 'memory' };
    await one.quotas.admitToolCall(call);
    await two.quotas.admitToolCall(call);
    await one.quotas.admitToolCall(call);
    await expect(two.quotas.admitToolCall(call)).rejects.toMatchObject({
      code: 'RUNTIME_QUOTA_EXCEEDED',
      details: { quota: 'mcp.memory.quota_calls' },
    });
    // Another agent has its own allowance; a native tool of the same name is not the server's.
    await one.quotas.admitToolCall({ ...call, agent: { did: 'did:key:z6Mkother', name: 'o' } });
    await one.quotas.admitToolCall({ agent, manifest, tool: 'memory__read_graph' });
    const usage = await two.quotas.usage(agent.did, manifest);
    expect(usage.toolCalls).toBe(4);
    expect(usage.rates.api_calls_per_hour).toMatchObject({ limit: '100/hour', used: 4, available: 96 });
    await one.store.close();
    await two.store.close();
  });

  it('counts LLM tokens against the budget and refuses past it, naming the quota', async () => {
    const { store, quotas } = await gateway(join(dir, 'tokens.db'), { llmTokenBudget: 100 });
    await quotas.chargeTokens(agent, manifest, 70);
    await expect(quotas.chargeTokens(agent, manifest, 31)).rejects.toMatchObject({
      details: { quota: 'agent.llm_tokens' },
    });
    await quotas.chargeTokens(agent, manifest, 30);
    expect((await quotas.usage(agent.did, manifest)).llmTokens).toBe(100);
    await store.close();
  });

  it('refuses with RUNTIME_QUOTA_UNAVAILABLE when the store is gone, never allows', async () => {
    const { store, quotas } = await gateway(join(dir, 'gone.db'), {});
    await store.close();
    await expect(quotas.admitToolCall({ agent, manifest, tool: 'echo' })).rejects.toMatchObject({
      code: 'RUNTIME_QUOTA_UNAVAILABLE',
      details: { quota: 'quota.store' },
    });
    await expect(quotas.chargeTokens(agent, manifest, 1)).rejects.toMatchObject({
      code: 'RUNTIME_QUOTA_UNAVAILABLE',
    });
  });
});
