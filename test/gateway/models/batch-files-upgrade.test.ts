import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { batchFileStore } from '../../../src/gateway/models/batch-file-store.js';
import { BatchFiles } from '../../../src/gateway/models/batch-files.js';
import { batchItemStore } from '../../../src/gateway/models/batch-item-store.js';
import { batchStore } from '../../../src/gateway/models/batch-store.js';
import { MIGRATIONS, openStore } from '../../../src/store/index.js';
import { postgresUnavailable, startPostgres } from '../../store/postgres-server.js';

const AGENT = 'did:key:z6MkUploader';
const LINE = JSON.stringify({
  custom_id: 'kept',
  method: 'POST',
  url: '/v1/chat/completions',
  body: { model: 'gpt-test', messages: [{ role: 'user', content: 'still here?' }], max_tokens: 5 },
});
const OBJECT = {
  id: 'file-00000000000000000000feed',
  object: 'file',
  bytes: LINE.length + 1,
  created_at: 1_700_000_000,
  filename: 'input.jsonl',
  purpose: 'batch',
  status: 'processed',
  status_details: null,
};
const AT = '2026-12-01T00:00:00.000Z';

/**
 * Uploaded batch inputs moved from `model_batches` rows of status `file`
 * (schema 6-7) to a table of their own (8): a home written before the move
 * keeps its files (same object, same content, still its agent's only), and
 * its batches stay batches. Both backends run the same migration.
 */
async function upgrade(location: string): Promise<void> {
  const old = await openStore(location, { migrations: MIGRATIONS.filter((m) => m.version <= 7) });
  try {
    expect(await old.schemaVersion()).toBe(7);
    const insert =
      'INSERT INTO model_batches (id, agent_id, node, status, batch, results, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)';
    await old.sql.run(insert, [OBJECT.id, AGENT, '', 'file', JSON.stringify(OBJECT), `${LINE}\n`, AT, AT]);
    await old.sql.run(insert, [
      'batch_old',
      AGENT,
      'local',
      'completed',
      '{"id":"batch_old"}',
      'x\n',
      AT,
      AT,
    ]);
  } finally {
    await old.close();
  }
  const store = await openStore(location);
  try {
    expect(await store.schemaVersion()).toBeGreaterThanOrEqual(8);
    const files = new BatchFiles(batchFileStore(store.sql), 1024 * 1024);
    expect(await files.get(AGENT, OBJECT.id)).toEqual(OBJECT);
    expect(await files.content(AGENT, OBJECT.id)).toBe(`${LINE}\n`);
    // Still its agent's alone.
    expect(await files.get('did:key:z6MkSomeoneElse', OBJECT.id)).toBeUndefined();
    // A batch can still be made of it.
    const request = await files.requestFor(AGENT, OBJECT.id, {
      endpoint: '/v1/chat/completions',
      input_file_id: OBJECT.id,
    });
    expect(request.requests.map((r) => r.custom_id)).toEqual(['kept']);
    // The batch stays a batch; the file is no longer a model_batches row.
    expect((await batchStore(store.sql).get(AGENT, 'batch_old'))?.status).toBe('completed');
    expect(await batchStore(store.sql).get(AGENT, OBJECT.id)).toBeUndefined();
    expect(await store.sql.all("SELECT id FROM model_batches WHERE status = 'file'", [])).toEqual([]);
  } finally {
    await store.close();
  }
}

/** A batch's item steps (migration 9) read back as written, several items moved in one statement. */
async function itemSteps(location: string): Promise<void> {
  const store = await openStore(location);
  try {
    const items = batchItemStore(store.sql);
    const requests = Array.from({ length: 150 }, (_, i) => ({ custom_id: `c${i}`, body: { n: i } }));
    await items.insert('batch_steps', requests);
    const drawn = { tokens: 7, costMicros: 1 };
    await items.set('batch_steps', [3, 120, 149], 'submitted', (item) => ({
      drawn,
      provider: { name: 'gpt', batch: 'pb_1', item: `oacp-${item}` },
    }));
    await items.set('batch_steps', [0], 'sent', () => ({ drawn }));
    const rows = await items.list('batch_steps');
    expect(rows).toHaveLength(150);
    expect(rows[149]).toEqual({
      item: 149,
      customId: 'c149',
      body: '{"n":149}',
      state: 'submitted',
      progress: { drawn, provider: { name: 'gpt', batch: 'pb_1', item: 'oacp-149' } },
    });
    expect(rows.filter((row) => row.state === 'submitted').map((row) => row.item)).toEqual([3, 120, 149]);
    expect(rows[0]).toMatchObject({ state: 'sent', progress: { drawn } });
    expect(rows[1]).toMatchObject({ state: 'pending', progress: {} });
  } finally {
    await store.close();
  }
}

describe('batch store tables on both backends: uploaded files survive the move to their own table, item steps read back', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('SQLite: a store with file rows keeps them after the upgrade', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-files-upgrade-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    await upgrade(join(dir, 'store.db'));
    await itemSteps(join(dir, 'store.db'));
  });

  it.skipIf(postgresUnavailable() !== undefined)(
    'PostgreSQL: a store with file rows keeps them after the upgrade',
    async () => {
      const pg = await startPostgres();
      if ('skipped' in pg) throw new Error(`PostgreSQL did not start: ${pg.skipped}`);
      cleanup.push(() => pg.stop());
      const url = await pg.createDatabase();
      await upgrade(url);
      await itemSteps(url);
    },
    120_000,
  );
});
