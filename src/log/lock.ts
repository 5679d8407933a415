import { randomBytes } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { z } from 'zod';
import { logError } from './errors.js';

const LockSchema = z
  .object({ pid: z.number().int().positive(), host: z.string(), nonce: z.string() })
  .strict();
type LockOwner = z.infer<typeof LockSchema>;

/**
 * Keeps a second process (or a second open in this one) from appending to the same log,
 * which would interleave records and fork the tree. A lock names its pid and host; a lock
 * whose process is gone on this host is stale and taken over. This is best effort: it
 * cannot see through pid reuse, and a lock from another host is never judged stale.
 */
export class DirectoryLock {
  private constructor(
    private readonly path: string,
    private readonly owner: LockOwner,
  ) {}

  static async acquire(path: string): Promise<DirectoryLock> {
    const owner: LockOwner = { pid: process.pid, host: hostname(), nonce: randomBytes(12).toString('hex') };
    // Written aside then hard-linked into place: the lock appears whole or not at all.
    const temp = `${path}.${owner.pid}.${owner.nonce}`;
    await writeFile(temp, JSON.stringify(owner));
    try {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        try {
          await link(temp, path);
          return new DirectoryLock(path, owner);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        await removeIfStale(path);
      }
      throw logError('LOG_LOCKED', `could not take the log lock ${path}: it keeps changing hands`);
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  /** Removes the lock if it is still ours. */
  async release(): Promise<void> {
    const current = await readOwner(this.path);
    if (typeof current === 'object' && current.nonce === this.owner.nonce)
      await unlink(this.path).catch(() => undefined);
  }
}

async function readOwner(path: string): Promise<LockOwner | undefined | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return LockSchema.parse(JSON.parse(text));
  } catch {
    return 'unreadable';
  }
}

/** Throws LOG_LOCKED if the lock's owner may be alive; otherwise moves the stale lock away. */
async function removeIfStale(path: string): Promise<void> {
  const owner = await readOwner(path);
  if (owner === undefined) return;
  if (owner !== 'unreadable') {
    if (owner.host !== hostname()) {
      throw logError(
        'LOG_LOCKED',
        `the log is locked by pid ${owner.pid} on host ${owner.host}; remove ${path} if that is wrong`,
      );
    }
    if (isAlive(owner.pid)) throw logError('LOG_LOCKED', `the log is open in process ${owner.pid}`);
  }
  // Rename rather than unlink, then check what was moved: if another process replaced the
  // stale lock with a live one in between, put that one back instead of stealing it.
  const aside = `${path}.stale.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const moved = await readOwner(aside);
  const same =
    moved === owner ||
    (typeof moved === 'object' && typeof owner === 'object' && moved.nonce === owner.nonce);
  if (!same) {
    await link(aside, path).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
    throw logError('LOG_LOCKED', 'another process took the log lock at the same moment');
  }
  await unlink(aside).catch(() => undefined);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
