import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QuotaRequest } from '../../src/airlock/quota/engine.js';
import { StoreQuotaEngine } from '../../src/airlock/quota/store-engine.js';
import { TokenBucket } from '../../src/airlock/quota/token-bucket.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/types.js';
import { startPostgres } from '../../test/store/postgres-server.js';
import { type BenchCase, figure, syncThroughput, throughput } from '../harness.js';

const CHECKS = 3_000;
const IN_FLIGHT = 16;
/** Buckets the checks spread over (agents of a busy gateway), so rows are not all one hot row. */
const BUCKETS = 64;

function request(i: number): QuotaRequest {
  return {
    key: `agent:bench-${i % BUCKETS}:api_calls_per_hour`,
    quota: 'agent.api_calls_per_hour',
    label: '1000000/hour',
    shape: { capacity: 1_000_000, refill: 1_000_000, windowMs: 3_600_000 },
    amount: 1,
  };
}

/** A gateway tool call's reservation: its agent's bucket, the tool's and the API key's (all or none). */
function toolCall(i: number): QuotaRequest[] {
  const perMinute = (key: string): QuotaRequest => ({
    key,
    quota: key,
    label: '1000000000/min',
    shape: { capacity: 1_000_000_000, refill: 1_000_000_000, windowMs: 60_000 },
    amount: 1,
  });
  return [request(i), perMinute('tool:echo'), perMinute(`api_key:bench-${i % 4}`)];
}

async function engineRate(store: Store, reservation: (i: number) => QuotaRequest[]): Promise<number> {
  const engine = new StoreQuotaEngine(store);
  let i = 0;
  const check = async () => {
    const admission = await engine.reserve(reservation(i++));
    if (!admission.ok) throw new Error(admission.refusal.reason);
  };
  await throughput(check, 200, IN_FLIGHT);
  return throughput(check, CHECKS, IN_FLIGHT);
}

function memoryRate(): number {
  const buckets = Array.from(
    { length: BUCKETS },
    () => new TokenBucket(1_000_000, 1_000_000 / 3_600_000, Date.now),
  );
  return syncThroughput((i) => buckets[i % BUCKETS]?.tryTake(1), 200_000);
}

/**
 * Quota checks per second on the persistent engine (one atomic statement per
 * check, the checks in flight committed together; durable: SQLite with
 * synchronous=FULL; PostgreSQL as the test server runs it, fsync off) beside an in-memory token bucket, which is what the
 * gateway used before quotas had to survive restarts and be shared.
 */
export const quotaCases: BenchCase[] = [
  {
    id: 'quota-checks',
    title: 'quota checks per second: SQLite and PostgreSQL engine vs in-memory bucket',
    async run(report) {
      const figures = [];
      // The machine's load when the run began: these figures move with it (2 shared cores here).
      const load = `load average ${loadavg()[0]?.toFixed(1)} at the start`;
      const dir = mkdtempSync(join(tmpdir(), 'oacp-bench-quota-'));
      try {
        const sqlite = await openStore(join(dir, 'gateway.db'));
        const sqliteRate = await engineRate(sqlite, (i) => [request(i)]);
        const sqliteCalls = await engineRate(sqlite, toolCall).finally(() => sqlite.close());
        const memory = memoryRate();
        report(
          `sqlite ${sqliteRate.toFixed(0)}/s (3 buckets: ${sqliteCalls.toFixed(0)}/s), memory ${memory.toFixed(0)}/s`,
        );
        figures.push(
          figure({
            case: 'quota-checks',
            metric: 'checks per second, SQLite store (durable)',
            unit: 'checks/s',
            subject: sqliteRate,
            baselineName: 'in-memory token bucket',
            baseline: memory,
            note: `${IN_FLIGHT} in flight over ${BUCKETS} buckets; checks in flight together commit in one transaction (group commit: one WAL fsync per batch, synchronous=FULL); ${load}`,
          }),
        );
        figures.push(
          figure({
            case: 'quota-checks',
            metric: 'tool-call reservations per second (agent + tool + key buckets), SQLite store (durable)',
            unit: 'reservations/s',
            subject: sqliteCalls,
            baselineName: 'in-memory token bucket',
            baseline: memory,
            note: `${IN_FLIGHT} in flight; each all or none in its own savepoint, the reservations in flight in one transaction (one WAL fsync per batch); ${load}`,
          }),
        );
        const pg = await startPostgres();
        if ('skipped' in pg) {
          report(`postgres skipped: ${pg.skipped}`);
          return figures;
        }
        try {
          const store = await openStore(await pg.createDatabase());
          const pgRate = await engineRate(store, (i) => [request(i)]);
          const pgCalls = await engineRate(store, toolCall).finally(() => store.close());
          report(`postgres ${pgRate.toFixed(0)}/s (3 buckets: ${pgCalls.toFixed(0)}/s)`);
          figures.push(
            figure({
              case: 'quota-checks',
              metric: 'tool-call reservations per second (agent + tool + key buckets), PostgreSQL store',
              unit: 'reservations/s',
              subject: pgCalls,
              baselineName: 'in-memory token bucket',
              baseline: memory,
              note: `${IN_FLIGHT} in flight; savepoint each, batched, rows pre-locked in key order; local server with fsync off (the test server); ${load}`,
            }),
          );
          figures.push(
            figure({
              case: 'quota-checks',
              metric: 'checks per second, PostgreSQL store',
              unit: 'checks/s',
              subject: pgRate,
              baselineName: 'in-memory token bucket',
              baseline: memory,
              note: `${IN_FLIGHT} in flight over ${BUCKETS} buckets; group commit; local server with fsync off (the test server); ${load}`,
            }),
          );
        } finally {
          await pg.stop();
        }
        return figures;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];
