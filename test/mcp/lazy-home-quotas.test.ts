import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requestBudget } from '../../src/airlock/quota/request-budget.js';
import { QuotasSchema } from '../../src/capability/manifest.js';
import { lazyHomeQuotas, networkBudgetKey } from '../../src/mcp/lazy-home-quotas.js';
import { bridgeHome } from './home-bridge.js';

const quotas = QuotasSchema.parse({ network_requests_per_min: 1, burst: 0 });

describe("a bridge's network budget on the home store", () => {
  it('attack: deleting the home store to reset a spent budget refuses every request instead', async () => {
    const home = await bridgeHome();
    const key = networkBudgetKey('fetcher');
    const first = lazyHomeQuotas(home);
    expect((await requestBudget(quotas, { engine: first.engine, key }).take()).effect).toBe('allow');
    await first.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(join(home, `gateway.db${suffix}`), { force: true });
    const second = lazyHomeQuotas(home);
    try {
      const decision = await requestBudget(quotas, { engine: second.engine, key }).take();
      expect(decision.effect).toBe('deny');
      expect(decision.reason).toContain("the home's quota store did not open");
    } finally {
      await second.close();
    }
  });

  it('a closed one refuses; one that failed to open tries again at the next request', async () => {
    const home = await bridgeHome();
    // A directory where the store's file goes: it cannot be opened.
    mkdirSync(join(home, 'gateway.db'));
    const lazy = lazyHomeQuotas(home);
    await expect(lazy.engine()).rejects.toThrow();
    rmSync(join(home, 'gateway.db'), { recursive: true });
    const engine = await lazy.engine();
    expect(await lazy.engine()).toBe(engine);
    await lazy.close();
    await expect(lazy.engine()).rejects.toThrow('closed');
  });
});
