import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QuotaRequest } from '../../src/airlock/quota/engine.js';
import { StoreQuotaEngine } from '../../src/airlock/quota/store-engine.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store, TransactionRepos } from '../../src/store/types.js';
import { type PostgresServer, postgresUnavailable, startPostgres } from '../store/postgres-server.js';

const unavailable = postgresUnavailable();
if (unavailable !== undefined) console.warn(`PostgreSQL quota batch tests skipped: ${unavailable}`);

const NOW = 1_700_000_000_000;
const bucket = (key: string, capacity: number): QuotaRequest => ({
  key,
  quota: key.replaceAll(':', '.'),
  label: String(capacity),
  shape: { capacity, refill: 0, windowMs: 60_000 },
  amount: 1,
});

/**
 * The group commit of quota reservations on a real PostgreSQL (src/airlock/quota/group-commit.ts):
 * batches from two gateways (two stores, two connection pools) creating the same new buckets
 * crosswise never deadlock, and a savepoint that cannot be rolled back refuses its whole batch.
 */
describe.skipIf(unavailable !== undefined)('quota batches on PostgreSQL', () => {
  let server: PostgresServer | undefined;
  let url = '';

  beforeAll(async () => {
    const started = await startPostgres();
    if ('skipped' in started) throw new Error(started.skipped);
    server = started;
    url = await started.createDatabase();
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('two gateways batching crossing reservations over buckets nobody created yet never deadlock', async () => {
    const stores = [await openStore(url), await openStore(url)];
    const engines = stores.map((store) => new StoreQuotaEngine(store, () => NOW));
    try {
      // Fresh keys every round: each batch creates its rows. Gateway A's reservations run over the
      // ring s0..s5 from s0, B's from s3, so in batch order A would create s0,s1,s2 while B
      // creates s3,s4,s5 and each would then wait for a row the other created: a deadlock.
      for (let round = 0; round < 6; round++) {
        const ring = (n: number) => bucket(`fresh${round}:s${n % 6}`, 40);
        const results = await Promise.all(
          engines.flatMap((engine, g) =>
            Array.from({ length: 30 }, (_, i) => engine.reserve([ring(i + 3 * g), ring(i + 3 * g + 1)])),
          ),
        );
        const refusals = results.flatMap((r) => (r.ok ? [] : [`${r.refusal.quota}: ${r.refusal.reason}`]));
        // Never a store refusal (a deadlock aborts a batch and shows as quota.store); 60 reservations
        // of 2 over 6 buckets of 40 all fit.
        expect(refusals).toEqual([]);
        let used = 0;
        for (let n = 0; n < 6; n++) {
          const row = await stores[0]?.quotaBuckets.get(`fresh${round}:s${n}`);
          expect(row?.used).toBeLessThanOrEqual(40);
          used += row?.used ?? 0;
        }
        expect(used).toBe(2 * results.length);
      }
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  }, 60_000);

  it('refuses a whole batch, saying why, when a savepoint rollback fails, and counts nothing of it', async () => {
    const store = await openStore(url);
    const killer = new pg.Client({ connectionString: url });
    await killer.connect();
    let inject = true;
    // The fault: right after a take is refused, the reservation's connection is cut, so the
    // ROLLBACK TO SAVEPOINT that would undo its other takes fails.
    const cutOnRefusal = (tx: TransactionRepos): TransactionRepos => ({
      ...tx,
      quotaBuckets: {
        ...tx.quotaBuckets,
        async take(...args) {
          const result = await tx.quotaBuckets.take(...args);
          if (!result.taken && inject) {
            inject = false;
            await killer.query(
              `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
               WHERE datname = current_database() AND state = 'idle in transaction' AND pid <> pg_backend_pid()`,
            );
          }
          return result;
        },
      },
    });
    const faulty: Pick<Store, 'transaction' | 'quotaBuckets' | 'location'> = {
      location: store.location,
      quotaBuckets: store.quotaBuckets,
      transaction: (fn) => store.transaction((tx) => fn(cutOnRefusal(tx))),
    };
    const engine = new StoreQuotaEngine(faulty, () => NOW);
    try {
      expect((await engine.reserve([bucket('sp:full', 1)])).ok).toBe(true);
      // One batch: a reservation that takes sp:a and is then refused at sp:full, and two others.
      const results = await Promise.all([
        engine.reserve([bucket('sp:a', 5), bucket('sp:full', 1)]),
        engine.reserve([bucket('sp:b', 5)]),
        engine.reserve([bucket('sp:c', 5), bucket('sp:d', 5)]),
      ]);
      expect(inject).toBe(false);
      for (const result of results) {
        expect(result).toMatchObject({
          ok: false,
          refusal: {
            quota: 'quota.store',
            reason: expect.stringMatching(
              /could not be checked in the store at postgres:\/\/.*a savepoint could not be rolled back .*; refused$/,
            ),
          },
        });
      }
      // Nothing of the failed batch was kept: no take counted, once or twice.
      for (const key of ['sp:a', 'sp:b', 'sp:c', 'sp:d'])
        expect((await store.quotaBuckets.get(key))?.used ?? 0, key).toBe(0);
      expect((await store.quotaBuckets.get('sp:full'))?.used).toBe(1);
      // The engine recovers on a new connection and counts exactly once from there.
      expect((await engine.reserve([bucket('sp:a', 5), bucket('sp:b', 5)])).ok).toBe(true);
      expect((await store.quotaBuckets.get('sp:a'))?.used).toBe(1);
      expect((await store.quotaBuckets.get('sp:b'))?.used).toBe(1);
    } finally {
      await killer.end();
      await store.close();
    }
  }, 60_000);
});
