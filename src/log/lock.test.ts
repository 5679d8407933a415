import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DirectoryLock } from './lock.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function lockPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-lock-'));
  dirs.push(dir);
  return join(dir, 'log.lock');
}

/** The pid of a process that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  const pid = Number(child.stdout);
  if (!Number.isInteger(pid) || pid <= 0)
    throw new Error(`could not start a short-lived process: ${child.error}`);
  return pid;
}

describe('DirectoryLock', () => {
  it('refuses a second holder while the first is alive, and allows one after release', async () => {
    const path = lockPath();
    const first = await DirectoryLock.acquire(path);
    expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid);
    await expect(DirectoryLock.acquire(path)).rejects.toMatchObject({ code: 'LOG_LOCKED' });
    await first.release();
    expect(existsSync(path)).toBe(false);
    const second = await DirectoryLock.acquire(path);
    await second.release();
  });

  it('takes over a lock whose process is gone', async () => {
    const path = lockPath();
    writeFileSync(path, JSON.stringify({ pid: deadPid(), host: hostname(), nonce: 'old' }));
    const lock = await DirectoryLock.acquire(path);
    expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('takes over an unreadable lock file', async () => {
    const path = lockPath();
    writeFileSync(path, 'not json');
    const lock = await DirectoryLock.acquire(path);
    await lock.release();
  });

  it('never judges a lock from another host stale', async () => {
    const path = lockPath();
    // Even this process's own pid proves nothing about a process on another machine.
    writeFileSync(path, JSON.stringify({ pid: process.pid, host: `${hostname()}-elsewhere`, nonce: 'x' }));
    await expect(DirectoryLock.acquire(path)).rejects.toMatchObject({ code: 'LOG_LOCKED' });
  });

  it('does not remove a lock that is no longer its own', async () => {
    const path = lockPath();
    const lock = await DirectoryLock.acquire(path);
    const other = JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'someone-else' });
    writeFileSync(path, other);
    await lock.release();
    expect(readFileSync(path, 'utf8')).toBe(other);
  });
});
