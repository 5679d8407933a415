import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QuotasSchema } from '../../capability/manifest.js';
import { NetworkPolicy } from '../../capability/network-policy.js';
import { openStore } from '../../store/open-store.js';
import { EgressAudit } from '../egress/audit.js';
import { checkEgress, type RequestLimiter } from '../egress/gate.js';
import { proxyRules } from '../egress/rules.js';
import { STORE_QUOTA } from './engine.js';
import { requestBudget } from './request-budget.js';
import { StoreQuotaEngine } from './store-engine.js';

const dir = mkdtempSync(join(tmpdir(), 'oacp-request-budget-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quotas = QuotasSchema.parse({ network_requests_per_min: 2, burst: 0 });

/** One egress request to an allowlisted address through the real gate, with `limiter`. */
function gate(limiter: RequestLimiter) {
  const audit = new EgressAudit();
  const rules = proxyRules(NetworkPolicy.from({ allowlist: ['93.184.216.34'], denylist: [] }), () => []);
  const send = () =>
    checkEgress({ rules, resolver: async () => ['93.184.216.34'], limiter, audit }, 'CONNECT', {
      host: '93.184.216.34',
      port: 443,
    });
  return { audit, send };
}

describe('requestBudget on the home store', () => {
  it('attack: a second budget on the same store and key (a new process) starts where the first left off', async () => {
    const path = join(dir, 'shared.db');
    const first = await openStore(path);
    const key = 'mcp_run:fetcher:network_requests_per_min';
    const a = requestBudget(quotas, { engine: async () => new StoreQuotaEngine(first), key });
    expect((await a.take()).effect).toBe('allow');
    expect((await a.take()).effect).toBe('allow');
    await first.close();
    const second = await openStore(path);
    try {
      const b = requestBudget(quotas, { engine: async () => new StoreQuotaEngine(second), key });
      const refused = await b.take();
      expect(refused.effect).toBe('deny');
      expect(refused.reason).toMatch(
        /quota network_requests_per_min exceeded: limit 2\/min; retry in \d+ ms/,
      );
      // Another server's budget is its own.
      const other = requestBudget(quotas, {
        engine: async () => new StoreQuotaEngine(second),
        key: 'mcp_run:other:network_requests_per_min',
      });
      expect((await other.take()).effect).toBe('allow');
    } finally {
      await second.close();
    }
  });

  it('attack: a store that does not open refuses the request, and the refusal is recorded', async () => {
    const limiter = requestBudget(quotas, {
      engine: async () => {
        throw new Error('gateway.db is not the store this home recorded');
      },
      key: 'mcp_run:fetcher:network_requests_per_min',
    });
    const { audit, send } = gate(limiter);
    const result = await send();
    expect(result.effect).toBe('deny');
    expect(result.effect === 'deny' && result.status).toBe(502);
    expect(result.decision.policyId).toBe(STORE_QUOTA);
    expect(result.decision.reason).toContain('gateway.db is not the store this home recorded');
    expect(audit.events.map((event) => event.effect)).toEqual(['deny']);
  });

  it('attack: a store that fails mid-way refuses (closed store)', async () => {
    const store = await openStore(join(dir, 'closed.db'));
    const engine = new StoreQuotaEngine(store);
    await store.close();
    const limiter = requestBudget(quotas, { engine: async () => engine, key: 'k' });
    const decision = await limiter.take();
    expect(decision.effect).toBe('deny');
    expect(decision.policyId).toBe(STORE_QUOTA);
  });

  it('a limiter that throws is a refusal with its reason, never an allow', async () => {
    const { audit, send } = gate({
      take: async () => {
        throw new Error('boom');
      },
    });
    const result = await send();
    expect(result.effect).toBe('deny');
    expect(result.decision.reason).toContain('boom');
    expect(audit.denied).toBe(1);
  });

  it('without a store: a bucket in memory, 429 once spent', async () => {
    const { send } = gate(requestBudget(quotas));
    expect((await send()).effect).toBe('allow');
    expect((await send()).effect).toBe('allow');
    const third = await send();
    expect(third.effect === 'deny' && third.status).toBe(429);
  });
});
