import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite-store.js';
import type { Datasync } from '../../src/store/wal-sync.js';

const dir = mkdtempSync(join(tmpdir(), 'oacp-wal-sync-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/**
 * A real fdatasync that can be held back: while `hold` is set, each call waits for
 * `release()`. Every call is recorded with the file it synced (from /proc/self/fd).
 */
function gatedDatasync() {
  const calls: string[] = [];
  let gate: Promise<void> | undefined;
  let open: () => void = () => undefined;
  const datasync: Datasync = async (handle: FileHandle) => {
    calls.push(readlinkSync(`/proc/self/fd/${handle.fd}`));
    if (gate !== undefined) await gate;
    await handle.datasync();
  };
  return {
    calls,
    datasync,
    hold() {
      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
    },
    release() {
      gate = undefined;
      open();
    },
  };
}

/** Whether `promise` has settled after the event loop has turned a few times. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
  return done;
}

async function openGated() {
  n += 1;
  const path = join(dir, `s${n}`, 'gateway.db');
  const sync = gatedDatasync();
  const store = await openSqliteStore(path, { datasync: sync.datasync });
  return { path, sync, store };
}

describe('SQLite store: a write is acknowledged only after an fdatasync of the WAL begun after its COMMIT', () => {
  it('a transaction resolves only once the fdatasync of the -wal file completes', async () => {
    const { path, sync, store } = await openGated();
    try {
      sync.hold();
      const before = sync.calls.length;
      const write = store.transaction((tx) => tx.quotaBuckets.adjust('k', 1, 0).then(() => 'done'));
      // The attack: treat a commit as acknowledged while its frames may still sit in the page cache.
      expect(await settled(write)).toBe(false);
      expect(sync.calls.slice(before)).toContain(`${path}-wal`);
      sync.release();
      expect(await write).toBe('done');
    } finally {
      sync.release();
      await store.close();
    }
  });

  it('a read does not show a commit that is not yet durable, and resolves once it is', async () => {
    const { sync, store } = await openGated();
    try {
      await store.sql.run('CREATE TABLE t (v INTEGER)');
      sync.hold();
      const write = store.sql.run('INSERT INTO t (v) VALUES (1)');
      const read = store.sql.get<{ c: number }>('SELECT COUNT(*) AS c FROM t');
      expect(await settled(write)).toBe(false);
      expect(await settled(read)).toBe(false);
      sync.release();
      await write;
      expect(await read).toEqual({ c: 1 });
    } finally {
      sync.release();
      await store.close();
    }
  });

  it('a read of tables no pending commit wrote does not wait for that commit', async () => {
    const { sync, store } = await openGated();
    try {
      sync.hold();
      const write = store.quotaBuckets.adjust('k', 1, 0);
      // The read path of a call (its API key, its agent) does not queue behind a quota batch's fdatasync...
      expect(await settled(store.apiKeys.get('0123456789abcdef'))).toBe(true);
      expect(await settled(store.agents.get('did:key:z6Mk-none'))).toBe(true);
      // ...but a read of the table the pending commit wrote does.
      const bucket = store.quotaBuckets.get('k');
      expect(await settled(write)).toBe(false);
      expect(await settled(bucket)).toBe(false);
      sync.release();
      await write;
      await bucket;
    } finally {
      sync.release();
      await store.close();
    }
  });

  it('with a trigger in the schema (a write can reach a table it does not name), every read waits', async () => {
    n += 1;
    const sync = gatedDatasync();
    const store = await openSqliteStore(join(dir, `s${n}`, 'gateway.db'), {
      datasync: sync.datasync,
      migrations: [
        {
          version: 1,
          name: 'with a trigger',
          statements: () => [
            'CREATE TABLE a (v INTEGER)',
            'CREATE TABLE b (v INTEGER)',
            'CREATE TRIGGER copy AFTER INSERT ON a BEGIN INSERT INTO b (v) VALUES (new.v); END',
          ],
        },
      ],
    });
    try {
      sync.hold();
      const write = store.sql.run('INSERT INTO a (v) VALUES (1)');
      // The attack: read b, which the trigger changed, before the commit that changed it is durable.
      const read = store.sql.get<{ c: number }>('SELECT COUNT(*) AS c FROM b');
      expect(await settled(read)).toBe(false);
      sync.release();
      await write;
      expect(await read).toEqual({ c: 1 });
    } finally {
      sync.release();
      await store.close();
    }
  });

  it('commits made while an fdatasync runs share the next one, and the event loop keeps running', async () => {
    const { sync, store } = await openGated();
    try {
      await store.sql.run('CREATE TABLE t (v INTEGER)');
      sync.hold();
      const first = store.sql.run('INSERT INTO t (v) VALUES (0)');
      await settled(first);
      const synced = sync.calls.length;
      const more = Array.from({ length: 20 }, (_, i) =>
        store.sql.run('INSERT INTO t (v) VALUES (?)', [i + 1]),
      );
      // Twenty commits went through SQLite while the first fdatasync is still held.
      expect(await settled(Promise.all(more))).toBe(false);
      sync.release();
      await Promise.all([first, ...more]);
      expect(sync.calls.length - synced).toBeLessThanOrEqual(1);
    } finally {
      sync.release();
      await store.close();
    }
  });

  it('a failed fdatasync refuses that write and every later operation (fail closed)', async () => {
    n += 1;
    const path = join(dir, `s${n}`, 'gateway.db');
    let fail = false;
    const store = await openSqliteStore(path, {
      datasync: async (handle) => {
        if (fail) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
        await handle.datasync();
      },
    });
    try {
      await store.sql.run('CREATE TABLE t (v INTEGER)');
      fail = true;
      await expect(store.sql.run('INSERT INTO t (v) VALUES (1)')).rejects.toMatchObject({
        code: 'STORE_QUERY_FAILED',
        message: expect.stringContaining('fdatasync failed'),
      });
      fail = false;
      // A later fdatasync could succeed without the pages the failed one lost: nothing is durable now.
      await expect(store.sql.run('INSERT INTO t (v) VALUES (2)')).rejects.toMatchObject({
        code: 'STORE_QUERY_FAILED',
      });
      await expect(store.sql.get('SELECT COUNT(*) AS c FROM t')).rejects.toMatchObject({
        code: 'STORE_QUERY_FAILED',
      });
      // ...and the refused write was not applied either: only the first (failed) insert reached the file.
      await store.close();
      const reopened = await openSqliteStore(path);
      try {
        expect(await reopened.sql.get('SELECT COUNT(*) AS c FROM t')).toEqual({ c: 1 });
      } finally {
        await reopened.close();
      }
    } finally {
      await store.close();
    }
  });

  it('runs SQLite with synchronous=NORMAL (the fdatasync above is the durable point, not COMMIT)', async () => {
    const { store } = await openGated();
    try {
      expect(await store.sql.get('PRAGMA synchronous')).toEqual({ synchronous: 1 });
      expect(await store.sql.get('PRAGMA journal_mode')).toEqual({ journal_mode: 'wal' });
    } finally {
      await store.close();
    }
  });
});
