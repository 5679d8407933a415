import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileLock } from '../../src/log/file-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'oacp-file-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Another process holding the lock (flock(1)) until its stdin closes. */
async function holder(path: string) {
  const child = spawn('flock', [path, '-c', 'echo held; read line'], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('error', reject);
  });
  return {
    release: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end('\n');
      }),
  };
}

/**
 * The sequencer lock's synchronous section (FileLock.withSync): exclusive with other processes,
 * and a long holder elsewhere does not block this thread (it polls briefly, then waits off it).
 */
describe('FileLock.withSync', () => {
  it('runs the section only once another process released the lock, without blocking the thread meanwhile', async () => {
    const path = join(dir, 'held.lock');
    const lock = await FileLock.open(path);
    try {
      // The positive control: free, it runs at once (synchronously).
      let ran = 0;
      const first = lock.withSync(() => {
        ran += 1;
        return 'free';
      });
      expect(ran).toBe(1);
      await expect(first).resolves.toBe('free');

      const other = await holder(path);
      const waiting = lock.withSync(() => {
        ran += 1;
        return 'after';
      });
      // The event loop turns (timers fire) while the other process holds the lock.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(ran).toBe(1);
      await other.release();
      await expect(waiting).resolves.toBe('after');
      expect(ran).toBe(2);
    } finally {
      await lock.close();
    }
  });

  it('releases the lock when the section throws, and rejects with its error', async () => {
    const path = join(dir, 'throws.lock');
    const lock = await FileLock.open(path);
    try {
      await expect(
        lock.withSync(() => {
          throw new Error('inside');
        }),
      ).rejects.toThrow('inside');
      // Another process can take it now: flock -n fails (exit 1) if it is still held.
      const code = await new Promise<number | null>((resolve) => {
        spawn('flock', ['-n', path, 'true']).once('exit', resolve);
      });
      expect(code).toBe(0);
    } finally {
      await lock.close();
    }
  });
});
