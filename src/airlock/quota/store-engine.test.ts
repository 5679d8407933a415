import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QuotasSchema } from '../../capability/manifest.js';
import { openStore } from '../../store/open-store.js';
import type { QuotaRequest } from './engine.js';
import { bucketShape, rateSpec } from './rate-quotas.js';
import { StoreQuotaEngine } from './store-engine.js';

const dir = mkdtempSync(join(tmpdir(), 'oacp-quota-engine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

async function engine(path = join(dir, `q${++files}.db`)) {
  let now = 1_700_000_000_000;
  const store = await openStore(path);
  return {
    path,
    store,
    engine: new StoreQuotaEngine(store, () => now),
    advance: (ms: number) => {
      now += ms;
    },
  };
}

function hourly(limit: number, burst: number, amount = 1): QuotaRequest {
  const spec = rateSpec(QuotasSchema.parse({ api_calls_per_hour: limit, burst }), 'api_calls_per_hour');
  return {
    key: 'agent:a:api_calls_per_hour',
    quota: 'agent.api_calls_per_hour',
    label: spec.label,
    shape: bucketShape(spec),
    amount,
  };
}

const perMinute = (key: string, limit: number): QuotaRequest => ({
  key,
  quota: key,
  label: `${limit}/min`,
  shape: { capacity: limit, refill: limit, windowMs: 60_000 },
  amount: 1,
});

describe('StoreQuotaEngine', () => {
  it('batches reservations that arrive as separate I/O callbacks (HTTP requests), not only those of one turn', async () => {
    const { engine: e, store } = await engine();
    // Each HTTP request reaches the engine from its own socket callback. SQLite's COMMIT blocks the
    // thread, so a batch gathered after one microtask took only the first caller: one fsync each.
    const results = await Promise.all(
      Array.from(
        { length: 32 },
        () =>
          new Promise<boolean>((resolve) =>
            setImmediate(() => void e.reserve([perMinute('agent:http', 1000)]).then((r) => resolve(r.ok))),
          ),
      ),
    );
    expect(results.every(Boolean)).toBe(true);
    expect(e.transactions).toBeLessThanOrEqual(2);
    expect((await store.quotaBuckets.get('agent:http'))?.used).toBe(32);
    await store.close();
  });

  it('lets spaced callers through exactly the limit: 4/hour, one call every 1.2 s, allows 4 of 11', async () => {
    const { engine: e, advance, store } = await engine();
    const outcomes: boolean[] = [];
    for (let i = 0; i < 11; i++) {
      outcomes.push((await e.reserve([hourly(4, 0)])).ok);
      advance(1_200);
    }
    expect(outcomes.filter(Boolean)).toHaveLength(4);
    const refusal = await e.reserve([hourly(4, 0)]);
    expect(refusal).toMatchObject({
      ok: false,
      refusal: {
        quota: 'agent.api_calls_per_hour',
        reason: expect.stringMatching(
          /^quota agent.api_calls_per_hour exceeded: limit 4\/hour; retry in \d+ ms$/,
        ),
      },
    });
    expect(await e.usage('agent:a:api_calls_per_hour', hourly(4, 0).shape)).toEqual({
      used: 4,
      available: 0,
      refused: 8,
    });
    await store.close();
  });

  it('gives limit + burst at once, then earns tokens back at the steady rate', async () => {
    const { engine: e, advance, store } = await engine();
    for (let i = 0; i < 6; i++) expect((await e.reserve([hourly(4, 2)])).ok).toBe(true);
    expect((await e.reserve([hourly(4, 2)])).ok).toBe(false);
    advance(899_999);
    expect((await e.reserve([hourly(4, 2)])).ok).toBe(false);
    advance(1);
    expect((await e.reserve([hourly(4, 2)])).ok).toBe(true);
    advance(100 * 3_600_000);
    for (let i = 0; i < 6; i++) expect((await e.reserve([hourly(4, 2)])).ok).toBe(true);
    expect((await e.reserve([hourly(4, 2)])).ok).toBe(false);
    await store.close();
  });

  it('reserves from every bucket or from none: a refusal costs the others nothing', async () => {
    const { engine: e, store } = await engine();
    const tool = perMinute('tool:t', 1);
    expect((await e.reserve([hourly(10, 0), tool])).ok).toBe(true);
    const refused = await e.reserve([hourly(10, 0), tool]);
    expect(refused).toMatchObject({ ok: false, refusal: { quota: 'tool:t', retryAfterMs: 60_000 } });
    expect((await e.usage(hourly(10, 0).key, hourly(10, 0).shape)).used).toBe(1);
    expect((await e.usage('tool:t', tool.shape)).refused).toBe(1);
    await store.close();
  });

  it('settles to what was really used: a refund comes back, an overrun is a debt that refuses', async () => {
    const { engine: e, store } = await engine();
    const budget = (amount: number): QuotaRequest => ({
      key: 'agent:a:llm_tokens',
      quota: 'agent.llm_tokens',
      label: '100 tokens in total',
      shape: { capacity: 100, refill: 0, windowMs: 1 },
      amount,
    });
    const first = await e.reserve([budget(50)]);
    if (!first.ok) throw new Error('first reservation refused');
    await e.settle(first.reservation, 20);
    expect(await e.usage('agent:a:llm_tokens', budget(0).shape)).toMatchObject({ used: 20, available: 80 });
    const second = await e.reserve([budget(80)]);
    if (!second.ok) throw new Error('second reservation refused');
    await e.settle(second.reservation, 90);
    expect(await e.usage('agent:a:llm_tokens', budget(0).shape)).toMatchObject({ used: 110, available: 0 });
    expect(await e.reserve([budget(1)])).toMatchObject({
      ok: false,
      refusal: { reason: 'quota agent.llm_tokens exceeded: limit 100 tokens in total; it does not refill' },
    });
    const third = await e.reserve([perMinute('k', 5)]);
    if (!third.ok) throw new Error('third reservation refused');
    await e.release(third.reservation);
    expect((await e.usage('k', perMinute('k', 5).shape)).used).toBe(0);
    await store.close();
  });

  it('refuses an amount larger than the bucket as never fitting, and a limit of 0 always', async () => {
    const { engine: e, store } = await engine();
    expect(await e.reserve([hourly(4, 0, 5)])).toMatchObject({
      ok: false,
      refusal: { reason: 'quota agent.api_calls_per_hour exceeded: limit 4/hour; this amount never fits' },
    });
    expect((await e.reserve([hourly(0, 10)])).ok).toBe(false);
    expect((await e.reserve([{ ...hourly(4, 0), amount: Number.NaN }])).ok).toBe(false);
    await store.close();
  });

  it('keeps its state across a restart: a used-up bucket stays used up', async () => {
    const first = await engine();
    for (let i = 0; i < 8; i++) expect((await first.engine.reserve([hourly(8, 0)])).ok).toBe(true);
    await first.store.close();
    const second = await engine(first.path);
    expect((await second.engine.reserve([hourly(8, 0)])).ok).toBe(false);
    await second.store.close();
  });

  it('fails closed: a store that cannot answer refuses, naming the store', async () => {
    const { engine: e, store } = await engine();
    await store.close();
    const refusal = await e.reserve([hourly(4, 0)]);
    expect(refusal).toMatchObject({
      ok: false,
      refusal: {
        quota: 'quota.store',
        reason: expect.stringMatching(
          /^quota agent.api_calls_per_hour could not be checked in the store at .*q\d+\.db \(.*is closed.*\); refused$/,
        ),
      },
    });
  });

  it('commits concurrent checks together (group commit), each with its own answer, and refuses a whole failed batch', async () => {
    const { store } = await engine();
    let transactions = 0;
    let failNext = false;
    const counted = {
      location: store.location,
      quotaBuckets: store.quotaBuckets,
      transaction: <T>(fn: Parameters<typeof store.transaction<T>>[0]) => {
        transactions += 1;
        if (failNext) return Promise.reject(new Error('disk I/O error'));
        return store.transaction(fn);
      },
    };
    const e = new StoreQuotaEngine(counted, () => 1_700_000_000_000);
    // 48 callers at once over two buckets of 10: exactly 10 from each, in far fewer than 48 commits.
    const results = await Promise.all(
      Array.from({ length: 48 }, (_, i) => e.reserve([perMinute(i % 2 === 0 ? 'g1' : 'g2', 10)])),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(20);
    expect(transactions).toBeGreaterThan(0);
    expect(transactions).toBeLessThan(48);
    // A batch whose transaction fails: every check in it is refused naming the store, none counted.
    failNext = true;
    const failed = await Promise.all(Array.from({ length: 8 }, () => e.reserve([perMinute('g3', 10)])));
    expect(failed.every((r) => !r.ok && r.refusal.quota === 'quota.store')).toBe(true);
    failNext = false;
    expect(await e.usage('g3', perMinute('g3', 10).shape)).toMatchObject({ used: 0, available: 10 });
    await store.close();
  });

  it('batches concurrent multi-bucket reservations in one transaction, each all or none', async () => {
    const { engine: e, store } = await engine();
    // The gateway's shape: agent + key + tool. Keys sort agent < key < tool, so a refusal on the
    // tool comes after the agent and key buckets were taken in the same batch: they must roll back.
    const call = (i: number): QuotaRequest[] => [
      perMinute('agent:a', 100),
      perMinute(`key:k${i % 2}`, 4),
      perMinute(i < 20 ? 'tool:x' : 'tool:y', 6),
    ];
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => e.reserve(call(i))));
    // tool:x holds 6: callers 0-5 pass; 6-19 are refused on tool:x; 20-23 use tool:y but their
    // key buckets (4 each, 3 already used) leave room for one more per key: 20 and 21 pass.
    expect(results.map((r) => r.ok)).toEqual(
      Array.from({ length: 24 }, (_, i) => i < 6 || i === 20 || i === 21),
    );
    expect(results[6]).toMatchObject({ ok: false, refusal: { quota: 'tool:x', retryAfterMs: 10_000 } });
    expect(results[22]).toMatchObject({ ok: false, refusal: { quota: 'key:k0' } });
    expect(e.transactions).toBe(1);
    // Exact counts: no take of a refused reservation survived.
    const used = async (key: string) => (await store.quotaBuckets.get(key))?.used;
    expect(await used('agent:a')).toBe(8);
    expect(await used('key:k0')).toBe(4);
    expect(await used('key:k1')).toBe(4);
    expect(await used('tool:x')).toBe(6);
    expect(await used('tool:y')).toBe(2);
    await store.close();
  });

  it('refuses every reservation of a batch whose transaction fails after its takes, and keeps none of them', async () => {
    const { store } = await engine();
    const failing = {
      location: store.location,
      quotaBuckets: store.quotaBuckets,
      transaction: <T>(fn: Parameters<typeof store.transaction<T>>[0]) =>
        store.transaction(async (tx) => {
          await fn(tx);
          throw new Error('disk I/O error at commit');
        }),
    };
    const e = new StoreQuotaEngine(failing, () => 1_700_000_000_000);
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => e.reserve([perMinute('agent:b', 10), perMinute(`tool:${i}`, 1)])),
    );
    expect(e.transactions).toBe(1);
    for (const result of results) {
      expect(result).toMatchObject({
        ok: false,
        refusal: { quota: 'quota.store', reason: expect.stringContaining('disk I/O error at commit') },
      });
    }
    expect(await store.quotaBuckets.get('agent:b')).toBeUndefined();
    expect(await store.quotaBuckets.get('tool:0')).toBeUndefined();
    await store.close();
  });

  it('never hands out more than the bucket holds to concurrent callers', async () => {
    const { engine: e, store } = await engine();
    const results = await Promise.all(Array.from({ length: 40 }, () => e.reserve([perMinute('c', 10)])));
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    await store.close();
  });
});

describe('StoreQuotaEngine.prune', () => {
  it('removes a bucket full and idle for a day and leaves a drained one: the limit holds after pruning', async () => {
    const { engine: e, advance, store } = await engine();
    expect((await e.reserve([perMinute('idle', 2)])).ok).toBe(true);
    const drained = { ...perMinute('drained', 2), shape: { capacity: 2, refill: 0, windowMs: 60_000 } };
    expect((await e.reserve([drained])).ok).toBe(true);
    expect((await e.reserve([drained])).ok).toBe(true);
    advance(25 * 60 * 60 * 1000);
    expect(await e.prune()).toBe(1);
    expect(await store.quotaBuckets.get('idle')).toBeUndefined();
    expect((await e.reserve([drained])).ok).toBe(false);
    expect(() => e.prune(10)).toThrow(/at least a minute/);
    await store.close();
  });
});
