import {
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WalSync } from '../../src/store/wal-sync.js';

const root = mkdtempSync(join(tmpdir(), 'oacp-wal-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A real fdatasync that records which file (path, inode) each call synced. */
function recording() {
  const synced: { path: string; ino: number }[] = [];
  const datasync = async (handle: FileHandle) => {
    synced.push({ path: readlinkSync(`/proc/self/fd/${handle.fd}`), ino: (await handle.stat()).ino });
    await handle.datasync();
  };
  return { synced, datasync };
}

describe('WalSync: which files a commit is made durable in', () => {
  it('syncs the WAL, and on a new WAL file (a new inode at the path) its directory too before it', async () => {
    const dir = join(root, 'swap');
    mkdirSync(dir);
    const db = join(dir, 'gateway.db');
    writeFileSync(`${db}-wal`, 'first');
    const { synced, datasync } = recording();
    const sync = new WalSync(db, datasync);
    try {
      await sync.durable(sync.committed('all'));
      expect(synced.map((s) => s.path)).toEqual([dir, `${db}-wal`]);
      await sync.durable(sync.committed('all'));
      expect(synced.map((s) => s.path).slice(2)).toEqual([`${db}-wal`]);
      // The attack: the WAL is replaced (another file renamed over it); syncing the old descriptor
      // would make nothing of the new file durable.
      writeFileSync(`${db}-wal.new`, 'second');
      renameSync(`${db}-wal.new`, `${db}-wal`);
      const fresh = statSync(`${db}-wal`).ino;
      await sync.durable(sync.committed('all'));
      expect(synced.slice(3).map((s) => s.path)).toEqual([dir, `${db}-wal`]);
      expect(synced.at(-1)?.ino).toBe(fresh);
    } finally {
      await sync.close();
    }
  });

  it('with no WAL (the last connection removed it), syncs the database file and its directory', async () => {
    const dir = join(root, 'gone');
    mkdirSync(dir);
    const db = join(dir, 'gateway.db');
    writeFileSync(db, 'db');
    const { synced, datasync } = recording();
    const sync = new WalSync(db, datasync);
    try {
      await sync.durable(sync.committed('all'));
      expect(synced.map((s) => s.path)).toEqual([db, dir]);
    } finally {
      await sync.close();
    }
  });

  it('a commit already durable resolves without another fdatasync; reads wait for the last commit to their tables', async () => {
    const dir = join(root, 'order');
    mkdirSync(dir);
    const db = join(dir, 'gateway.db');
    writeFileSync(`${db}-wal`, 'x');
    const { synced, datasync } = recording();
    const sync = new WalSync(db, datasync);
    try {
      const first = sync.committed('all');
      const waiting = sync.durable(first);
      // Counted while the first fdatasync may already be running: it needs one that began after it.
      const second = sync.committed(new Set(['quota_buckets']));
      await Promise.all([waiting, sync.durable(second)]);
      const count = synced.length;
      await sync.durable(first);
      await sync.durable(second);
      expect(synced.length).toBe(count);
      expect(sync.lastWriteTo(new Set(['api_keys']))).toBe(first);
      expect(sync.lastWriteTo(new Set(['quota_buckets']))).toBe(second);
    } finally {
      await sync.close();
    }
  });
});

describe('WalSync: a symlink at the WAL path', () => {
  it('is refused (the store fails closed) rather than syncing the file it points to', async () => {
    const dir = join(root, 'link');
    mkdirSync(dir);
    const db = join(dir, 'gateway.db');
    writeFileSync(join(dir, 'elsewhere'), 'x');
    symlinkSync(join(dir, 'elsewhere'), `${db}-wal`);
    const { synced, datasync } = recording();
    const sync = new WalSync(db, datasync);
    try {
      await expect(sync.durable(sync.committed('all'))).rejects.toMatchObject({ code: 'STORE_QUERY_FAILED' });
      expect(synced.map((s) => s.path)).not.toContain(join(dir, 'elsewhere'));
      // Poisoned: later commits are refused too.
      await expect(sync.durable(sync.committed('all'))).rejects.toMatchObject({ code: 'STORE_QUERY_FAILED' });
    } finally {
      await sync.close();
    }
  });
});
