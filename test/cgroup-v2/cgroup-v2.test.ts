import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootGuest, type GuestRun, guestKernel } from './vm.js';

/**
 * OACP's cgroup v2 code on a real cgroup v2 kernel. This host is a v1
 * hybrid, so one QEMU guest (vm.ts) boots Debian's stock kernel with a
 * unified hierarchy and runs guest/driver.mjs: the cgroup module as root in
 * a cgroup that holds processes (as a container's does), the same as uid
 * 1000 in a subtree delegated as systemd delegates, and the hardened tier
 * through the CLI. The driver records what the kernel did; the assertions
 * are here. Needs dist/ (npm run build), qemu-system-x86, busybox-static,
 * e2fsprogs and python3; the kernel is fetched with apt-get download once
 * and cached under ~/.cache/oacp-test/cgroup-v2/.
 */

const here = dirname(fileURLToPath(import.meta.url));
const MiB = 1024 * 1024;

interface Run {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly wallMs: number;
}

interface Observed {
  readonly name: string;
  readonly error?: string;
  readonly [key: string]: unknown;
}

interface CgroupRun extends Observed {
  readonly dir: string;
  readonly run: Run;
  readonly oomKills: number;
  readonly memoryPeakBytes?: number;
  readonly forksRefused: number;
  readonly cpuUsageMs?: number;
  readonly removed: boolean;
}

let guest: GuestRun | undefined;
const results = new Map<string, Observed>();

function result<T extends Observed>(name: string): T {
  const found = results.get(name);
  if (found === undefined)
    throw new Error(`the guest recorded no ${name}; its console:\n${guest?.console ?? ''}`);
  if (found.error !== undefined) throw new Error(`${name} failed in the guest: ${found.error}`);
  return found as T;
}

/** `key value` lines (cpu.stat) as numbers. */
function stat(text: string, key: string): number {
  const match = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  if (match?.[1] === undefined) throw new Error(`no ${key} in ${text}`);
  return Number(match[1]);
}

beforeAll(async () => {
  const kernel = guestKernel(join(here, 'guest-init.sh'));
  guest = await bootGuest(kernel, join(here, 'guest', 'driver.mjs'), 840_000);
  const path = join(guest.outDir, 'results.jsonl');
  if (!existsSync(path)) throw new Error(`the guest wrote no results; its console:\n${guest.console}`);
  const text = readFileSync(path, 'utf8');
  for (const line of text.split('\n').filter((entry) => entry.length > 0)) {
    const parsed = JSON.parse(line) as Observed;
    results.set(parsed.name, parsed);
  }
}, 900_000);

afterAll(() => {
  if (guest !== undefined) rmSync(dirname(guest.outDir), { recursive: true, force: true });
});

describe.each([
  { who: 'root in a cgroup that holds processes', prefix: '', parent: '/sys/fs/cgroup/ci' },
  { who: 'uid 1000 in a delegated subtree', prefix: 'user.', parent: '/sys/fs/cgroup/delegated-1000' },
  { who: 'root in a container (own cgroup namespace)', prefix: 'container.', parent: '/sys/fs/cgroup' },
])('cgroup v2 on a real kernel, as $who', ({ prefix, parent }) => {
  it('detects every controller on v2 beside its own leaf, and doctor says so before anything moves', () => {
    const detect = result<
      Observed & { host: unknown; doctorFacts: unknown; selfCgroup: string; neighbourCgroup: string }
    >(`${prefix}detect`);
    const v2 = { available: true, version: 2, parents: [parent] };
    expect(detect.host).toEqual({ memory: v2, pids: v2, cpu: v2, io: v2 });
    // The cgroup held OACP's process and a busy neighbour, so v2's no-internal-processes rule
    // made both move into a leaf.
    const leaf = `0::${parent.replace('/sys/fs/cgroup', '')}/oacp-supervisor`;
    expect(detect.selfCgroup).toBe(leaf);
    expect(detect.neighbourCgroup).toBe(leaf);
    expect(detect.doctorFacts).toEqual(
      ['memory', 'pids', 'cpu', 'io'].map((resource) => ({
        name: `cgroup ${resource}`,
        ok: true,
        detail: `cgroup v2 at ${parent}`,
      })),
    );
  });

  it('writes the v2 limit files: memory.max, no swap, group OOM kill, pids.max, cpu.max', () => {
    const config = result<CgroupRun & Record<string, string>>(`${prefix}config`);
    // Named oacp-<id>.<creator pid>.<its pid namespace> (stale.ts), so a later start can sweep it if
    // its creator dies.
    expect(config.dir.startsWith(`${parent}/oacp-v2-config.`), config.dir).toBe(true);
    expect(config.dir).toMatch(/\/oacp-v2-config\.\d+\.\d+$/);
    expect(config.memoryMax).toBe(String(64 * MiB));
    expect(config.swapMax).toBe('0');
    expect(config.oomGroup).toBe('1');
    expect(config.pidsMax).toBe('20');
    expect(config.cpuMax).toBe('50000 100000');
    expect(config.run.code).toBe(0);
    expect(config.removed).toBe(true);
  });

  it.each([
    ['anonymous memory', 'memory-anon'],
    ['a memfd', 'memory-memfd'],
    ['a /dev/shm file', 'memory-shm'],
  ])('kills a workload that fills %s past memory.max (200 MiB against 64 MiB)', (_what, name) => {
    const seen = result<CgroupRun>(`${prefix}${name}`);
    expect(seen.run.signal).toBe('SIGKILL');
    expect(seen.run.stdout).not.toContain('survived');
    // 4 MiB per line: the kernel stopped it at or below the limit, never past it.
    expect(seen.run.stdout.trim().split('\n').length * 4).toBeLessThanOrEqual(64);
    expect(seen.oomKills).toBeGreaterThan(0);
    expect(seen.memoryPeakBytes).toBeLessThanOrEqual(64 * MiB);
    expect(seen.removed).toBe(true);
  });

  it('notifies a change of pids.events (inotify) when it refuses a fork, as the supervisor watches it', () => {
    const seen = result<Observed & { forksRefused: number; seenAtEvents: number[] }>(`${prefix}pids-notify`);
    expect(seen.forksRefused).toBeGreaterThan(0);
    expect(seen.seenAtEvents.some((count) => count > 0)).toBe(true);
  });

  it('bounds a fork bomb with pids.max and kills what is left when the cgroup is removed', () => {
    const seen = result<CgroupRun & { pidsPeak: string; pidsCurrent: string }>(`${prefix}pids`);
    const [forked, refused] = seen.run.stdout.trim().split(' ').map(Number);
    expect(forked).toBe(15);
    expect(refused).toBe(49);
    expect(seen.forksRefused).toBe(49);
    expect(Number(seen.pidsPeak)).toBe(16);
    // The 15 sleepers outlived their parent; removing the sandbox's cgroup killed them.
    expect(Number(seen.pidsCurrent)).toBe(15);
    expect(seen.removed).toBe(true);
  });

  it('throttles a busy loop to cpu.max and counts its CPU from cpu.stat', () => {
    const seen = result<CgroupRun & { cpuStat: string }>(`${prefix}cpu-bandwidth`);
    expect(seen.run.stdout).toContain('done');
    expect(stat(seen.cpuStat, 'nr_throttled')).toBeGreaterThan(0);
    const usedUs = stat(seen.cpuStat, 'usage_usec');
    // 0.2 CPU: at most 20 ms per 100 ms period, plus one period's slack.
    expect(usedUs / 1000).toBeLessThanOrEqual(seen.run.wallMs * 0.2 + 100);
    expect(seen.cpuUsageMs).toBeCloseTo(usedUs / 1000, 0);
    expect(seen.removed).toBe(true);
  });

  it('leaves no sandbox cgroup behind, only its own leaf', () => {
    expect(result<Observed & { entries: string[] }>(`${prefix}leftovers`).entries).toEqual([
      'oacp-supervisor',
    ]);
  });
});

describe.each([
  { who: 'root', prefix: '' },
  { who: 'uid 1000 in a delegated subtree', prefix: 'user.' },
])('the hardened tier under cgroup v2, as $who', ({ prefix }) => {
  it('runs a hardened sandbox (oacp run) that the kernel stops when a memfd fills --quota-memory 64mb', () => {
    const seen = result<Observed & Run>(`${prefix}hardened-memfd`);
    expect(seen.code, seen.stderr).toBe(137);
    expect(seen.stdout).not.toContain('survived');
    expect(seen.stderr).toContain('workload stopped by the Airlock (memory)');
    expect(seen.stderr).toContain('--quota-memory');
    // Its cgroup is gone once oacp has exited.
    expect(result<Observed & { entries: string[] }>(`${prefix}hardened-leftovers`).entries).toEqual([
      'oacp-supervisor',
    ]);
  });
});

describe('the gVisor tier under cgroup v2, as root', () => {
  it("measures its kernel's footprint from memory.current minus file, and doctor reports it", () => {
    const doctor = result<Observed & Run>('gvisor-doctor');
    const line = doctor.stdout.split('\n').find((entry) => entry.startsWith('gvisor ')) ?? '';
    expect(line).toMatch(/^gvisor\s+yes\s/);
    const measured = /its kernel's own memory measured at ([\d.]+) MiB/.exec(line)?.[1];
    // Go heaps of runsc, sentry and gofer plus page tables: tens of MiB, never zero and never
    // the page cache of the runsc binary (which memory.current also counts, and which is subtracted).
    expect(Number(measured)).toBeGreaterThan(4);
    expect(Number(measured)).toBeLessThan(128);
  });

  it('stops a memfd fill at the 64 MiB quota: the workload held at most 64 MiB when the kernel killed it', () => {
    const seen = result<Observed & Run>('gvisor-memfd');
    expect(seen.stderr).toContain('workload stopped by the Airlock (memory)');
    expect(seen.code, seen.stderr).toBe(137);
    expect(seen.stdout).not.toContain('survived');
    const held = [...seen.stdout.matchAll(/^held (\d+)$/gm)].map((match) => Number(match[1]));
    // It ran and filled (so the kill is the quota's, not a failed start), and never held more than the quota.
    expect(Math.max(...held)).toBeGreaterThanOrEqual(24);
    expect(Math.max(...held)).toBeLessThanOrEqual(64);
    expect(result<Observed & { entries: string[] }>('gvisor-leftovers').entries).toEqual(['oacp-supervisor']);
  });
});

describe('cgroup v2 io.max on a real virtio disk', () => {
  it('throttles direct writes to the disk of a grant at disk_io_mb_per_s', () => {
    const seen = result<CgroupRun & { device: string; vda: string; ioMax: string; ioStat: string }>('io');
    // blockDeviceOf found the whole disk under the ext4 mount.
    expect(seen.device).toBe(seen.vda);
    expect(seen.ioMax).toBe(`${seen.vda} rbps=${MiB} wbps=${MiB} riops=max wiops=max`);
    expect(seen.ioStat).toContain(`wbytes=${3 * MiB}`);
    expect(seen.run.code).toBe(0);
    // 3 MiB at 1 MiB/s: a floor only (a slow machine can only make it longer).
    expect(seen.run.wallMs).toBeGreaterThanOrEqual(2000);
    expect(seen.removed).toBe(true);
  });

  it('throttles buffered writes too: writeback is charged to the cgroup that dirtied the pages', () => {
    const seen = result<CgroupRun & { ioStat: string }>('io-buffered');
    expect(seen.run.code).toBe(0);
    expect(seen.ioStat).toContain(`wbytes=${3 * MiB}`);
    const copied = /copied, ([\d.]+) s/.exec(seen.run.stderr)?.[1];
    expect(copied, seen.run.stderr).toBeDefined();
    expect(Number(copied)).toBeGreaterThanOrEqual(2);
    expect(seen.removed).toBe(true);
  });
});

describe('the hardened tier under cgroup v2 (oacp run, as root)', () => {
  it('bounds a fork bomb at quotas.max_pids', () => {
    const seen = result<Observed & Run>('hardened-pids');
    const [forked, refused] = seen.stdout.trim().split(' ').map(Number);
    expect(seen.stdout, seen.stderr).toMatch(/^\d+ \d+/);
    // max_pids 16 plus the tier's own helpers; never all 64.
    expect(forked).toBeGreaterThan(0);
    expect(forked).toBeLessThan(20);
    expect((forked ?? 0) + (refused ?? 0)).toBe(64);
  });

  it('stops a busy loop at its lifetime CPU budget (--quota-cpu), counted from cpu.stat', () => {
    const seen = result<Observed & Run>('hardened-cpu-total');
    expect(seen.code, seen.stderr).toBe(137);
    expect(seen.stdout).not.toContain('survived');
    expect(seen.stderr).toContain('workload stopped by the Airlock (cpu)');
    expect(seen.stderr).toContain('--quota-cpu');
  });

  it('throttles writes into an :rw grant at disk_io_mb_per_s through io.max', () => {
    const seen = result<Observed & Run>('hardened-io');
    expect(seen.code, seen.stderr).toBe(0);
    const copied = /copied, ([\d.]+) s/.exec(seen.stderr)?.[1];
    expect(copied, seen.stderr).toBeDefined();
    expect(Number(copied)).toBeGreaterThanOrEqual(2);
  });
});
