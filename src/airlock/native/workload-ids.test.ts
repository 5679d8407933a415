import { type ChildProcess, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WORKLOAD_ID } from './identity.js';
import { leaseWorkloadId } from './workload-ids.js';

const isRoot = process.getuid?.() === 0;
const LEASES = join(import.meta.dirname, '..', '..', '..', 'dist', 'airlock', 'native', 'workload-ids.js');

const made: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function leaseDir(): string {
  const root = mkdtempSync(join(tmpdir(), 'oacp-leases-'));
  made.push(root);
  return join(root, 'ids');
}

/** Another oacp process holding a lease in `dir`: resolves with its uid once it has it. */
function holder(dir: string): Promise<{ child: ChildProcess; uid: number }> {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { leaseWorkloadId } = await import(${JSON.stringify(LEASES)});
       console.log(leaseWorkloadId({ dir: ${JSON.stringify(dir)}, count: 1 }).user.uid);
       setInterval(() => {}, 60_000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) => resolve({ child, uid: Number(chunk.toString()) }));
    child.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
  });
}

describe.skipIf(!isRoot)('workload id leases', () => {
  it('gives each holder its own id above WORKLOAD_ID and reuses a released one', () => {
    const dir = leaseDir();
    const first = leaseWorkloadId({ dir });
    const second = leaseWorkloadId({ dir });
    expect([first.user.uid, second.user.uid]).toEqual([WORKLOAD_ID + 1, WORKLOAD_ID + 2]);
    expect(second.user.gid).toBe(second.user.uid);
    first.release();
    expect(leaseWorkloadId({ dir }).user.uid).toBe(WORKLOAD_ID + 1);
  });

  it('a held id is not leased by another process; killing the holder frees it', async () => {
    const dir = leaseDir();
    const { child, uid } = await holder(dir);
    expect(uid).toBe(WORKLOAD_ID + 1);
    expect(() => leaseWorkloadId({ dir, count: 1 })).toThrow(/all 1 dedicated workload ids are in use/);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(leaseWorkloadId({ dir, count: 1 }).user.uid).toBe(WORKLOAD_ID + 1);
  });

  it('refuses a lease directory another user could write into', () => {
    const dir = leaseDir();
    leaseWorkloadId({ dir }).release();
    chownSync(dir, 1000, 1000);
    expect(() => leaseWorkloadId({ dir })).toThrow(`${dir} must be a directory owned by root`);
  });
});
