import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StoreQuotaEngine } from '../../../src/airlock/quota/store-engine.js';
import { ModelBudget } from '../../../src/gateway/models/budget.js';
import { BudgetGauge } from '../../../src/gateway/models/budget-gauge.js';
import { GatewayMetrics } from '../../../src/gateway/observability/gateway-metrics.js';
import { openStore } from '../../../src/store/open-store.js';
import type { Store } from '../../../src/store/types.js';

const FROZEN = 1_800_000_000_000;
const AGENT = { did: 'did:key:z6MkGauge', name: 'gauged', lineage: ['did:key:z6MkGauge'] };
const INTERVAL = 150;

describe('the budget gauge: one reading an interval per agent, ending on the last settlement (real SQLite budgets)', () => {
  let dir: string;
  let store: Store;
  let budget: ModelBudget;
  let metrics: GatewayMetrics;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oacp-budget-gauge-'));
    store = await openStore(join(dir, 'store.db'));
    budget = new ModelBudget(new StoreQuotaEngine(store, () => FROZEN), { tokensPerHour: 10_000 });
    metrics = new GatewayMetrics('test');
  });
  afterEach(async () => {
    await budget.settled();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One call as the gateway makes it: reserved, settled on `used`, then the gauge told. */
  const call = async (gauge: BudgetGauge, used: number) => {
    const verdict = await budget.reserve(AGENT.lineage, 100, 0);
    if (verdict.effect !== 'allow') throw new Error(verdict.reason);
    await budget.settle(verdict.reservation, used, 0);
    void gauge.settled(AGENT);
  };
  const shown = () => metrics.llmBudgetRemaining.get({ agent: AGENT.name });

  it('calls one at a time read the store once an interval, not once a call, and the gauge ends exact', async () => {
    const reads = vi.spyOn(budget, 'remainingTokens');
    const interval = 1_000;
    const gauge = new BudgetGauge(budget, metrics.llmBudgetRemaining, interval);
    const started = performance.now();
    for (let i = 0; i < 40; i++) await call(gauge, 10);
    // The first settlement is read at once, the rest at the end of each interval they came in
    // (one reading a call before: 40 here, or about half that where readings overlapped).
    const intervals = Math.ceil((performance.now() - started) / interval);
    expect(reads.mock.calls.length).toBeLessThanOrEqual(1 + intervals);
    await expect.poll(shown, { timeout: 5_000 }).toBe(10_000 - 400);
    expect(shown()).toBe(await budget.remainingTokens(AGENT.lineage));
  });

  it('a settlement made just after a reading is not left out: the trailing reading shows it', async () => {
    const gauge = new BudgetGauge(budget, metrics.llmBudgetRemaining, INTERVAL);
    await call(gauge, 10);
    await expect.poll(shown, { timeout: 5_000 }).toBe(10_000 - 10);
    // Within the interval of that reading: no reading of its own at once...
    await call(gauge, 1_000);
    expect(shown()).toBe(10_000 - 10);
    // ...but one at the interval's end, made after it.
    await expect.poll(shown, { timeout: 5_000 }).toBe(10_000 - 1_010);
  });

  it('a settlement after a quiet interval is read at once', async () => {
    const reads = vi.spyOn(budget, 'remainingTokens');
    const gauge = new BudgetGauge(budget, metrics.llmBudgetRemaining, INTERVAL);
    await call(gauge, 10);
    await new Promise((resolve) => setTimeout(resolve, INTERVAL * 2));
    const before = reads.mock.calls.length;
    await call(gauge, 20);
    // Started as the settlement is told, not at an interval's end: counted before any timer could run.
    expect(reads.mock.calls.length).toBe(before + 1);
    await expect.poll(shown, { timeout: 5_000 }).toBe(10_000 - 30);
    expect(reads.mock.calls.length).toBe(before + 1);
  });
});
