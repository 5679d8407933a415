import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detectCgroupHost } from '../../src/airlock/cgroups/index.js';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { CLI, isRoot, oacpCli, REGULAR_USER } from './confine-harness.js';
import { manifest, PYTHON, run } from './native-harness.js';

/**
 * Issue 9 (round 4, item 1): a gVisor workload is killed at its memory quota,
 * not at the quota plus the sentry's allowance. Every page the workload holds
 * lives in the sentry's memory file; the cgroup allows `memory_mb` plus the
 * gVisor kernel's own footprint, measured on this host (footprint.ts). Until
 * round 3 the allowance was a fixed 64 MiB and a workload reached ~104 MiB.
 *
 * The attacks: fill anonymous memory, a memfd, /dev/shm and detached SysV
 * segments 1 MiB at a time, printing what is held after each MiB. python3's
 * own pages (about 5 MiB) count too, so a workload killed at 64 MiB has held
 * at most 60 MiB of fill.
 */
const MIB = 1024 * 1024;
const tier = new GvisorTier({ pollMs: 25 });
const skip = !(await tier.availability()).available || !existsSync(PYTHON);
const host = detectCgroupHost();
const memoryByKernel = host.memory.available;
/** On cgroup v1 only root may use the controllers (a v2 host may delegate them to uid 1000). */
const cgroupV1 = host.memory.available && host.memory.version === 1;

const FILL = (kind: 'anon' | 'memfd' | 'shm' | 'sysv', stopAt = 1024) => `
import os, ctypes
chunk = b"x" * (1 << 20)
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
hoard = []
held = 0
try:
    if "${kind}" == "memfd":
        fd = os.memfd_create("fill")
    elif "${kind}" == "shm":
        f = open("/dev/shm/fill", "wb")
    while held < ${stopAt}:
        if "${kind}" == "memfd":
            os.write(fd, chunk)
        elif "${kind}" == "shm":
            f.write(chunk); f.flush()
        elif "${kind}" == "sysv":
            segment = libc.shmget(0, 1 << 20, 0o1600)
            address = libc.shmat(segment, None, 0)
            ctypes.memset(address, 120, 1 << 20)
            libc.shmdt(ctypes.c_void_p(address))
        else:
            hoard.append(bytearray(chunk))
        held += 1
        print("held", held, flush=True)
    print("finished", flush=True)
except OSError as e:
    print("stopped:", e.errno, flush=True)
`;

const heldOf = (out: string): number =>
  Math.max(0, ...[...out.matchAll(/held (\d+)/g)].map((match) => Number(match[1])));

describe.skipIf(skip || !memoryByKernel)('gvisor: the memory quota bounds the workload itself', () => {
  it('the footprint of the gVisor kernel is measured here, not assumed', () => {
    const footprint = tier.memoryOverheadBytes() ?? 0;
    // runsc, the sentry and the gofer: Go heaps, page tables (about 19 MiB on this host).
    expect(footprint).toBeGreaterThan(4 * MIB);
    expect(footprint).toBeLessThan(64 * MIB);
  });

  for (const kind of ['anon', 'memfd', 'shm', 'sysv'] as const) {
    it(`a ${kind} fill is killed at --quota-memory 64mb of workload memory`, {
      timeout: 60_000,
    }, async () => {
      const result = await run(tier, {
        command: PYTHON,
        args: ['-c', FILL(kind)],
        manifest: manifest({}, { memory_mb: 64 }),
      });
      const held = heldOf(result.out);
      expect(result.out).not.toContain('finished');
      // /dev/shm is sized to the quota, so ENOSPC may come first; otherwise the kernel's kill.
      const stopped = result.status.killedBy === 'memory' || result.out.includes('stopped: 28');
      expect([stopped, result.status]).toEqual([true, result.status]);
      expect(held).toBeLessThanOrEqual(60);
      // Killed near the quota, not far below it.
      expect(held).toBeGreaterThanOrEqual(48);
      // The cgroup's limit is the quota plus the footprint; kernel memory charges that cannot fail may
      // pass it by a few pages (seen: one page).
      expect(result.usage.memoryPeakBytes).toBeLessThanOrEqual(65 * MIB + (tier.memoryOverheadBytes() ?? 0));
    });
  }

  it('a workload just under the quota still runs to the end', { timeout: 60_000 }, async () => {
    for (const kind of ['anon', 'shm'] as const) {
      const result = await run(tier, {
        command: PYTHON,
        args: ['-c', FILL(kind, 48)],
        manifest: manifest({}, { memory_mb: 64 }),
      });
      expect([kind, result.out.includes('finished'), result.status]).toEqual([
        kind,
        true,
        { code: 0, signal: null },
      ]);
    }
  });
});

/**
 * As a regular user this cgroup v1 host gives no memory controller: the quota
 * is refused unless the polled fallback is accepted by name, and then the
 * sentry's resident memory (which maps the workload's pages) is polled
 * against the quota plus a 64 MiB allowance. That is looser than the kernel's
 * limit yet, since the workload's pages are resident in the sentry and in its
 * ptrace stubs alike, the fill is still stopped within the quota.
 */
describe.skipIf(skip || !isRoot || !cgroupV1)(
  'gvisor memory as uid 1000 (no memory controller for it on cgroup v1)',
  () => {
    it('--quota-memory without the opt-out is refused before anything runs', () => {
      const refused = spawnSync(
        '/usr/bin/setpriv',
        [
          '--reuid=1000',
          '--regid=1000',
          '--clear-groups',
          process.execPath,
          CLI,
          'run',
          '--no-receipt',
          '--tier',
          'gvisor',
        ].concat(['--quota-memory', '64mb', '--', '/usr/bin/true']),
        { env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent' }, encoding: 'utf8' },
      );
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toContain('AIRLOCK_LIMIT_UNENFORCED');
      expect(refused.stderr).toContain('--allow-unenforced memory');
    });

    // Polled, so not a bound: a fast fill passes the quota by what it adds between two polls (seen: up to
    // 30 MiB under load). What is asserted is that every kind is stopped, detached SysV segments included
    // (resident nowhere: before round 4 such a fill held 300 MiB and finished; the sentry's memory file
    // counts them), and far below what the host would allow.
    for (const kind of ['anon', 'memfd', 'shm', 'sysv'] as const) {
      it(`with the polled fallback accepted, a ${kind} fill is stopped`, { timeout: 60_000 }, async () => {
        const result = await oacpCli(
          ['run', '--tier', 'gvisor', '--quota-memory', '64mb', '--', PYTHON, '-c', FILL(kind, 400)],
          { asUser: REGULAR_USER },
        );
        expect(result.stdout).not.toContain('finished');
        const stopped =
          result.stderr.includes('stopped by the Airlock (memory)') || result.stdout.includes('stopped: 28');
        expect([stopped, result.code, result.stderr]).toEqual([true, result.code, result.stderr]);
        expect(heldOf(result.stdout)).toBeGreaterThan(8);
        expect(heldOf(result.stdout)).toBeLessThan(200);
      });
    }
  },
);
