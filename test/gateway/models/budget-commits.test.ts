import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { QuotaRequest } from '../../../src/airlock/quota/engine.js';
import { StoreQuotaEngine } from '../../../src/airlock/quota/store-engine.js';
import { ModelBudget } from '../../../src/gateway/models/budget.js';
import { BudgetCommits } from '../../../src/gateway/models/budget-commits.js';
import { openStore } from '../../../src/store/open-store.js';
import type { Store } from '../../../src/store/types.js';

const SHAPE = { capacity: 100, refill: 100, windowMs: 3_600_000 };
const FROZEN = 1_800_000_000_000;

const take = (amount: number, key = 'agent:a:llm_tokens_per_hour'): QuotaRequest[] => [
  { key, quota: 'models.budgets.tokens_per_hour', label: '100 tokens/hour', shape: SHAPE, amount },
];

describe('group commit of model-budget writes (real SQLite quota engine)', () => {
  let dir: string;
  let store: Store;
  let engine: StoreQuotaEngine;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oacp-budget-commits-'));
    store = await openStore(join(dir, 'store.db'));
    engine = new StoreQuotaEngine(store, () => FROZEN);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('hands the reservations of one turn to the engine together: one transaction', async () => {
    const commits = new BudgetCommits(engine);
    const before = engine.transactions;
    const answers = await Promise.all(Array.from({ length: 10 }, () => commits.reserve(take(10))));
    expect(answers.every((answer) => answer.ok)).toBe(true);
    expect(engine.transactions - before).toBe(1);
    expect((await engine.usage('agent:a:llm_tokens_per_hour', SHAPE)).available).toBe(0);
  });

  it('gives each call the answer it would get alone when the batch does not fit: first come, first served', async () => {
    const commits = new BudgetCommits(engine);
    const answers = await Promise.all(Array.from({ length: 12 }, () => commits.reserve(take(10))));
    expect(answers.map((answer) => answer.ok)).toEqual([...Array(10).fill(true), false, false]);
    const refused = answers[11];
    expect(refused?.ok === false ? refused.refusal.quota : '').toBe('models.budgets.tokens_per_hour');
    expect((await engine.usage('agent:a:llm_tokens_per_hour', SHAPE)).available).toBe(0);
  });

  it('refuses a merged amount larger than the bucket without refusing the calls that fit', async () => {
    const commits = new BudgetCommits(engine);
    const answers = await Promise.all([commits.reserve(take(60)), commits.reserve(take(60))]);
    expect(answers.map((answer) => answer.ok)).toEqual([true, false]);
  });

  it('settles concurrent calls in one transaction, each bucket moved by what its calls left unused', async () => {
    const commits = new BudgetCommits(engine);
    const reservations = await Promise.all(Array.from({ length: 10 }, () => commits.reserve(take(10))));
    const before = engine.transactions;
    await Promise.all(
      reservations.map((answer) => {
        if (!answer.ok) throw new Error('refused');
        return commits.settle(answer.reservation, 3);
      }),
    );
    expect(engine.transactions - before).toBe(1);
    // 10 x 10 reserved, 10 x 3 used: 70 back.
    expect((await engine.usage('agent:a:llm_tokens_per_hour', SHAPE)).available).toBe(70);
  });

  it('charges an overrun already reported before the next reservation is decided, without waiting for it', async () => {
    const commits = new BudgetCommits(engine);
    const first = await commits.reserve(take(95));
    if (!first.ok) throw new Error('refused');
    // The call used 100 (its estimate said 95); its answer went out before the settlement was written.
    const settling = commits.settle(first.reservation, 100);
    const next = await commits.reserve(take(5));
    expect(next.ok).toBe(false);
    expect(next.ok === false ? next.refusal.quota : '').toBe('models.budgets.tokens_per_hour');
    await settling;
    expect((await engine.usage('agent:a:llm_tokens_per_hour', SHAPE)).available).toBe(0);
  });

  it('gives back what a call left unused before the next reservation is decided', async () => {
    const commits = new BudgetCommits(engine);
    const first = await commits.reserve(take(100));
    if (!first.ok) throw new Error('refused');
    void commits.settle(first.reservation, 40);
    const next = await commits.reserve(take(60));
    expect(next.ok).toBe(true);
    expect((await engine.usage('agent:a:llm_tokens_per_hour', SHAPE)).available).toBe(0);
  });

  it('reads what is left only after the settlements already submitted are written', async () => {
    const budget = new ModelBudget(engine, { tokensPerHour: 100 });
    const verdict = await budget.reserve(['a'], 50, 0);
    if (verdict.effect !== 'allow') throw new Error('refused');
    const settling = budget.settle(verdict.reservation, 5, 0);
    expect(await budget.remainingTokens(['a'])).toBe(95);
    await settling;
  });

  describe('a settlement nobody waits for (settleLater)', () => {
    it("carries a held refund in the next reservation's transaction, applied before that reservation", async () => {
      // Held for as long as the test needs: the next reservation comes well after the settlement.
      const commits = new BudgetCommits(engine, 600_000);
      const first = await commits.reserve(take(100));
      if (!first.ok) throw new Error('refused');
      const before = engine.transactions;
      const settling = commits.settleLater(first.reservation, 90);
      // Long enough for a settlement submitted at once to have had its own transaction.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(engine.transactions - before).toBe(0);
      // Fits only with the 10 given back; one more does not.
      const fits = await commits.reserve(take(10));
      expect(fits.ok).toBe(true);
      // The settlement rode that reservation's transaction: one transaction (one fdatasync) for both.
      expect(engine.transactions - before).toBe(1);
      expect((await commits.reserve(take(1))).ok).toBe(false);
      await settling;
      expect((await engine.usage('agent:a:llm_tokens_per_hour', SHAPE)).available).toBe(0);
    });

    it('does not hold an overrun: it is written at once, for other gateways sharing the store', async () => {
      const commits = new BudgetCommits(engine, 600_000);
      const first = await commits.reserve(take(95));
      if (!first.ok) throw new Error('refused');
      // Waited for here only to show when it is written: the caller does not.
      await commits.settleLater(first.reservation, 100);
      expect((await engine.usage('agent:a:llm_tokens_per_hour', SHAPE)).available).toBe(0);
    });

    it('gives back a held unused part before the next reservation is decided', async () => {
      const commits = new BudgetCommits(engine, 600_000);
      const first = await commits.reserve(take(100));
      if (!first.ok) throw new Error('refused');
      void commits.settleLater(first.reservation, 40);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const next = await commits.reserve(take(60));
      expect(next.ok).toBe(true);
    });

    it('is written on its own when no reservation comes to carry it', async () => {
      const commits = new BudgetCommits(engine);
      const first = await commits.reserve(take(100));
      if (!first.ok) throw new Error('refused');
      await commits.settleLater(first.reservation, 30);
      expect((await engine.usage('agent:a:llm_tokens_per_hour', SHAPE)).available).toBe(70);
    });

    it('is written before a reading of what is left, and before the budget reports itself settled', async () => {
      const budget = new ModelBudget(engine, { tokensPerHour: 100 });
      const verdict = await budget.reserve(['a'], 50, 0);
      if (verdict.effect !== 'allow') throw new Error('refused');
      let written = false;
      void budget.settleLater(verdict.reservation, 5, 0).then(() => {
        written = true;
      });
      expect(await budget.remainingTokens(['a'])).toBe(95);
      const second = await budget.reserve(['a'], 50, 0);
      if (second.effect !== 'allow') throw new Error('refused');
      void budget.settleLater(second.reservation, 10, 0);
      // A clean stop waits for settled() before closing the store: nothing held is left behind.
      await budget.settled();
      expect(written).toBe(true);
      expect((await engine.usage(ModelBudget.key('a', 'llm_tokens_per_hour'), SHAPE)).available).toBe(85);
    });
  });

  it('makes no transaction for a call when no budget window is configured', async () => {
    const budget = new ModelBudget(engine, {});
    const before = engine.transactions;
    const verdict = await budget.reserve(['a'], 50, 0);
    expect(verdict.effect).toBe('allow');
    if (verdict.effect !== 'allow') throw new Error('refused');
    await budget.settleLater(verdict.reservation, 5, 0);
    await budget.settle(verdict.reservation, 5, 0);
    expect(engine.transactions - before).toBe(0);
  });
});
