import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
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
    const first = leaseWorkloadId({ dir, start: 0 });
    const second = leaseWorkloadId({ dir, start: 0 });
    expect([first.user.uid, second.user.uid]).toEqual([WORKLOAD_ID + 1, WORKLOAD_ID + 2]);
    expect(second.user.gid).toBe(second.user.uid);
    first.release();
    expect(leaseWorkloadId({ dir, start: 0 }).user.uid).toBe(WORKLOAD_ID + 1);
  });

  it('does not try every held slot first: a start searches from a random slot, wrapping past the last', () => {
    const dir = leaseDir();
    for (let slot = 0; slot < 100; slot++) leaseWorkloadId({ dir, start: 0 });
    // From slot 0 these would be 100, 101 and 102 after 100 tries each (1.6 ms a start).
    const spread = [0, 1, 2].map(() => leaseWorkloadId({ dir }).user.uid - WORKLOAD_ID - 1);
    expect(spread).not.toEqual([100, 101, 102]);
    const dir2 = leaseDir();
    leaseWorkloadId({ dir: dir2, start: 3 });
    expect(leaseWorkloadId({ dir: dir2, count: 4, start: 3 }).user.uid).toBe(WORKLOAD_ID + 1);
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

  /** Runs argv as uid 1000, the local unprivileged attacker. */
  function asUser1000(argv: string[], detached = false): ChildProcess | number | null {
    const args = ['--reuid', '1000', '--regid', '1000', '--clear-groups', ...argv];
    if (!detached) return spawnSync('setpriv', args, { stdio: 'inherit' }).status;
    const child = spawn('setpriv', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    return child;
  }

  it('refuses leases under a directory another user owns: it could rename them away so root makes fresh ones and a held id is leased twice', () => {
    const dir = leaseDir();
    const parent = join(dir, '..');
    chownSync(parent, 1000, 1000);
    // The attack under the old check: the held lease directory is renamed away by the parent's owner.
    const parentWasChecked = (() => {
      try {
        return leaseWorkloadId({ dir });
      } catch (error) {
        return error as Error;
      }
    })();
    if (!(parentWasChecked instanceof Error)) {
      expect(asUser1000(['mv', dir, `${dir}.held`])).toBe(0);
      const second = leaseWorkloadId({ dir });
      expect(second.user.uid).not.toBe(parentWasChecked.user.uid);
    }
    expect(parentWasChecked).toBeInstanceOf(Error);
    expect((parentWasChecked as Error).message).toContain(
      `${parent} (on the path of ${dir}, the workload id leases) must be owned by root`,
    );
  });

  it('accepts a root-owned sticky ancestor such as /tmp, and refuses a lease directory that is a symlink', () => {
    const dir = leaseDir();
    const real = join(dir, '..', 'real');
    leaseWorkloadId({ dir: real }).release();
    expect(spawnSync('ln', ['-s', real, dir]).status).toBe(0);
    expect(() => leaseWorkloadId({ dir })).toThrow(`${dir} must be a directory owned by root`);
  });

  it('refuses a lease file others can open: with only a read descriptor uid 1000 could flock it and hold the id', async () => {
    const dir = leaseDir();
    leaseWorkloadId({ dir }).release();
    chmodSync(join(dir, '..'), 0o755);
    chmodSync(dir, 0o755);
    closeSync(openSync(join(dir, '0'), 'w', 0o644));
    chmodSync(join(dir, '0'), 0o644);
    const locker = asUser1000(
      ['flock', '-s', join(dir, '0'), 'sh', '-c', 'echo held; sleep 60'],
      true,
    ) as ChildProcess;
    await new Promise((resolve) => locker.stdout?.once('data', resolve));
    expect(() => leaseWorkloadId({ dir, count: 1 })).toThrow(
      `the workload id lease ${join(dir, '0')} must be owned by root and closed to others`,
    );
  });

  it('makes missing parents (no /run) 0755 and only the lease directory 0700', () => {
    const dir = join(leaseDir(), '..', 'run', 'oacp', 'ids');
    leaseWorkloadId({ dir }).release();
    expect(statSync(join(dir, '..', '..')).mode & 0o777).toBe(0o755);
    expect(statSync(join(dir, '..')).mode & 0o777).toBe(0o755);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('refuses a start or count that would lease 2030000000 itself or an id outside the range', () => {
    const dir = leaseDir();
    expect(() => leaseWorkloadId({ dir, start: -1 })).toThrow(
      'workloadIds.start must be an integer from 0 to 65535, got -1',
    );
    expect(() => leaseWorkloadId({ dir, count: 4, start: 4 })).toThrow(
      'workloadIds.start must be an integer from 0 to 3',
    );
    expect(() => leaseWorkloadId({ dir, start: 0.5 })).toThrow('workloadIds.start must be an integer');
    expect(() => leaseWorkloadId({ dir, count: 65537 })).toThrow(
      'workloadIds.count must be an integer from 1 to 65536',
    );
  });

  it('a full /run does not stop starts while a lease file that exists is free', () => {
    const mount = leaseDir();
    mkdirSync(mount);
    // Four inodes: the root, ids, and two lease files; slot 2 cannot be made.
    expect(
      spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,nr_inodes=4,mode=0755', 'tmpfs', mount]).status,
    ).toBe(0);
    try {
      const dir = join(mount, 'ids');
      const held = [leaseWorkloadId({ dir, start: 0 }), leaseWorkloadId({ dir, start: 1 })];
      held[0]?.release();
      expect(leaseWorkloadId({ dir, count: 4, start: 2 }).user.uid).toBe(WORKLOAD_ID + 1);
      expect(() => leaseWorkloadId({ dir, count: 4, start: 2 })).toThrow(
        `no workload id lease is free and ${dir} has no space for a new one (ENOSPC)`,
      );
    } finally {
      spawnSync('umount', ['-l', mount]);
    }
  });
});
