import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { batchFileStore } from '../../../src/gateway/models/batch-file-store.js';
import { batchItemStore } from '../../../src/gateway/models/batch-item-store.js';
import { ModelBatches } from '../../../src/gateway/models/batch-jobs.js';
import { type BatchRow, batchStore } from '../../../src/gateway/models/batch-store.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { postgresUnavailable, startPostgres } from '../../store/postgres-server.js';

const AGENT = 'did:key:z6MkRacer';
const NOW = new Date('2026-12-05T12:00:00.000Z');
const DAY = 24 * 60 * 60 * 1000;
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

function row(id: string, status: string, updatedAt: string): BatchRow {
  return {
    id,
    agentId: AGENT,
    node: 'local',
    status,
    batch: JSON.stringify({ id, status }),
    results: status === 'in_progress' ? null : `{"custom_id":"${id}"}\n`,
    run: null,
    createdAt: updatedAt,
    updatedAt,
  };
}

/**
 * Round 5 left two defects in the store of asynchronous batches: two creates
 * at once could pass `models.batches_per_agent` by one (the count was read
 * before, and apart from, the insert), and items were never deleted. Both
 * backends, real stores: PostgreSQL with transactions truly concurrent on
 * separate connections.
 */
async function capHolds(store: Store): Promise<void> {
  const cap = 3;
  await batchStore(store.sql).insert(row('batch_already', 'in_progress', ago(0)));
  // Twelve creates at once, each as ModelBatches.create stores a batch: count under the lock, then insert.
  // The pause between the two widens the window a create without the lock would lose in.
  const outcomes = await Promise.all(
    Array.from({ length: 12 }, (_, n) =>
      store.transaction(async (tx) => {
        const running = await batchStore(tx.sql).lockedRunning(AGENT, store.dialect);
        if (running >= cap) return 'full';
        await new Promise((resolve) => setTimeout(resolve, 20));
        await batchStore(tx.sql).insert(row(`batch_race_${n}`, 'in_progress', ago(0)));
        return 'created';
      }),
    ),
  );
  expect(outcomes.filter((outcome) => outcome === 'created')).toHaveLength(cap - 1);
  expect(await batchStore(store.sql).running(AGENT)).toBe(cap);
  // Another agent's count is its own: its lock and its rows are apart.
  expect(await batchStore(store.sql).lockedRunning('did:key:z6MkOther', store.dialect)).toBe(0);
}

async function prunes(store: Store): Promise<void> {
  const batches = batchStore(store.sql);
  const items = batchItemStore(store.sql);
  const files = batchFileStore(store.sql);
  const item = [{ custom_id: 'a', body: { n: 1 } }];
  // Running (items needed to resume), ended a day ago (items no longer needed, output kept), ended long ago.
  await batches.insert(row('batch_running', 'in_progress', ago(40 * DAY)));
  await batches.insert(row('batch_cancelling', 'cancelling', ago(40 * DAY)));
  await batches.insert(row('batch_recent', 'completed', ago(DAY)));
  await batches.insert(row('batch_old', 'completed', ago(31 * DAY)));
  await batches.insert(row('batch_old_failed', 'failed', ago(31 * DAY)));
  for (const id of ['batch_running', 'batch_cancelling', 'batch_recent', 'batch_old', 'batch_old_failed'])
    await items.insert(id, item);
  // Items of no batch: a create cut short before items and batch were one transaction (two hours ago), and
  // items an older node wrote a moment ago, its batch row about to follow (left alone).
  await batchItemStore(store.sql, () => new Date(NOW.getTime() - 2 * 60 * 60 * 1000)).insert(
    'batch_never_stored',
    item,
  );
  await batchItemStore(store.sql, () => new Date(NOW.getTime() - 60 * 1000)).insert('batch_coming', item);
  const file = (id: string, createdAt: string) =>
    files.insert({
      id,
      agentId: AGENT,
      object: JSON.stringify({ id, bytes: 10 }),
      content: 'x\n',
      createdAt,
    });
  await file('file-new', ago(DAY));
  await file('file-old', ago(31 * DAY));

  const jobs = new ModelBatches({
    store: batches,
    items,
    transaction: (fn) => store.transaction((tx) => fn({ sql: tx.sql, dialect: store.dialect })),
    logSize: () => 0,
    node: 'local',
    now: () => NOW,
  });
  expect(await jobs.prune(files, 30 * DAY)).toEqual({ items: 4, batches: 2, files: 1 });
  const left = await store.sql.all<{ id: string }>('SELECT id FROM model_batches ORDER BY id');
  expect(left.map((r) => r.id)).toEqual(['batch_cancelling', 'batch_recent', 'batch_running']);
  const itemsLeft = await store.sql.all<{ batchId: string }>(
    'SELECT batch_id AS "batchId" FROM model_batch_items ORDER BY batch_id',
  );
  expect(itemsLeft.map((r) => r.batchId)).toEqual(['batch_cancelling', 'batch_coming', 'batch_running']);
  // The recent batch still serves its output file; the old one and its output are gone.
  expect((await batches.get(AGENT, 'batch_recent'))?.results).toBe('{"custom_id":"batch_recent"}\n');
  expect(await jobs.output(AGENT, 'file-output-batch_old')).toBeUndefined();
  expect(await files.get(AGENT, 'file-new')).toBeDefined();
  expect(await files.get(AGENT, 'file-old')).toBeUndefined();
  // Nothing more to prune the next time.
  expect(await jobs.prune(files, 30 * DAY)).toEqual({ items: 0, batches: 0, files: 0 });
}

describe('model batch store: the per-agent cap holds under simultaneous creates, and ended batches are pruned', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  const sqlite = async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-batch-cap-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = await openStore(join(dir, 'store.db'));
    cleanup.push(() => store.close());
    return store;
  };

  it('SQLite: attack: twelve creates at once against a cap of 3 with one running: two more are stored', async () => {
    await capHolds(await sqlite());
  });

  it('SQLite: items of batches not running, ended batches past retention and old uploads are pruned', async () => {
    await prunes(await sqlite());
  });

  it.skipIf(postgresUnavailable() !== undefined)(
    'PostgreSQL: the same attack on concurrent connections, and the same prune',
    async () => {
      const pg = await startPostgres();
      if ('skipped' in pg) throw new Error(`PostgreSQL did not start: ${pg.skipped}`);
      cleanup.push(() => pg.stop());
      const cap = await openStore(await pg.createDatabase());
      cleanup.push(() => cap.close());
      await capHolds(cap);
      const prune = await openStore(await pg.createDatabase());
      cleanup.push(() => prune.close());
      await prunes(prune);
    },
    120_000,
  );
});
