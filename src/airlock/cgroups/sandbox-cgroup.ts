import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { OacpError } from '../../core/errors.js';
import type { CgroupErrorCode } from './errors.js';
import type { CgroupHost, ResourceController } from './host.js';
import { V1_TCP_LIMIT_FILE, v1ChargesSocketBuffers } from './socket-memory.js';
import { sandboxCgroupName } from './stale.js';

/** Kernel limits of one sandbox; a resource left out is not limited through cgroups. */
export interface CgroupLimits {
  readonly memoryBytes?: number;
  readonly pids?: number;
  /** CPUs' worth of bandwidth (1 = one full CPU per period). */
  readonly cpus?: number;
  /** Read and write bytes per second on each block device ("major:minor" of whole disks). */
  readonly io?: { readonly bytesPerSecond: number; readonly devices: readonly string[] };
}

/** One sandbox's cgroup (one directory per v1 hierarchy). */
export interface SandboxCgroup {
  /** Every `cgroup.procs` the workload must join before it execs. */
  readonly procsFiles: readonly string[];
  /** CPU the cgroup has used, counted by the kernel; undefined without the cpu controller. */
  cpuUsageMs(): number | undefined;
  /** How many processes the kernel's OOM killer has killed in the cgroup. */
  oomKills(): number;
  /** Highest memory charge (RSS, page cache, shm, tmpfs, memfd, kernel memory). */
  memoryPeakBytes(): number | undefined;
  /**
   * The charge now, and the part of it that is page cache (`fileBytes`:
   * shmem, tmpfs, memfd and SysV pages, which in gVisor hold everything the
   * workload has, and file pages the kernel reclaims before it kills).
   * Undefined without the memory controller.
   */
  memoryCharge(): { readonly bytes: number; readonly fileBytes: number } | undefined;
  /** Forks the pids controller refused. */
  forksRefused(): number;
  /** The pids controller's `pids.events`, whose changes the kernel notifies (inotify), when there is one. */
  readonly pidsEventsFile?: string;
  /** Kills what is left inside and removes the directories. */
  remove(): Promise<void>;
}

const PERIOD_US = 100_000;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function keyed(text: string | undefined, key: string): number | undefined {
  const match = new RegExp(`^${key} (\\d+)$`, 'm').exec(text ?? '');
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

function write(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch (error) {
    throw new OacpError<CgroupErrorCode>(
      'AIRLOCK_CGROUP_FAILED',
      `cannot write ${value.trim()} to ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

interface Placed {
  readonly version: 1 | 2;
  readonly dirs: readonly string[];
}

function settle(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Writes the limits of one resource into its directory (or directories, v1 cpu). */
function configure(resource: ResourceController, placed: Placed, limits: CgroupLimits): void {
  const [dir = ''] = placed.dirs;
  const v1 = placed.version === 1;
  if (resource === 'memory' && limits.memoryBytes !== undefined) {
    const bytes = String(limits.memoryBytes);
    if (v1) {
      write(join(dir, 'memory.limit_in_bytes'), bytes);
      // memsw = memory + swap: equal to the memory limit means no swap at all.
      if (readText(join(dir, 'memory.memsw.limit_in_bytes')) !== undefined)
        write(join(dir, 'memory.memsw.limit_in_bytes'), bytes);
      write(join(dir, 'memory.swappiness'), '0');
      // v1 charges TCP buffers to a cgroup only once its TCP limit is set (v2 always, in memory.current):
      // without it a sandbox under 64 MiB held 2.2 GiB of loopback TCP buffers and pushed the host's
      // TCP memory (tcp_mem, one count for every network namespace) to its hard limit.
      // `oacp doctor` says whether this host has the file (doctor.ts, socketBufferFact).
      if (v1ChargesSocketBuffers(dir)) write(join(dir, V1_TCP_LIMIT_FILE), bytes);
    } else {
      write(join(dir, 'memory.max'), bytes);
      if (readText(join(dir, 'memory.swap.max')) !== undefined) write(join(dir, 'memory.swap.max'), '0');
      // One OOM kill ends the whole sandbox, not one victim among its processes.
      write(join(dir, 'memory.oom.group'), '1');
    }
  }
  if (resource === 'pids' && limits.pids !== undefined) write(join(dir, 'pids.max'), String(limits.pids));
  if (resource === 'cpu' && limits.cpus !== undefined) {
    const quota = String(Math.round(limits.cpus * PERIOD_US));
    if (v1) {
      write(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
      write(join(dir, 'cpu.cfs_quota_us'), quota);
    } else write(join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`);
  }
  if (resource === 'io' && limits.io !== undefined) {
    const rate = String(Math.max(1, Math.round(limits.io.bytesPerSecond)));
    for (const device of limits.io.devices) {
      if (v1) {
        write(join(dir, 'blkio.throttle.read_bps_device'), `${device} ${rate}`);
        write(join(dir, 'blkio.throttle.write_bps_device'), `${device} ${rate}`);
      } else write(join(dir, 'io.max'), `${device} rbps=${rate} wbps=${rate}`);
    }
  }
}

function wanted(resource: ResourceController, limits: CgroupLimits): boolean {
  if (resource === 'memory') return limits.memoryBytes !== undefined;
  if (resource === 'pids') return limits.pids !== undefined;
  if (resource === 'cpu') return limits.cpus !== undefined;
  return limits.io !== undefined && limits.io.devices.length > 0;
}

function pidsIn(dir: string): number[] {
  return (readText(join(dir, 'cgroup.procs')) ?? '')
    .split('\n')
    .filter((line) => line.length > 0)
    .map(Number);
}

async function removeDir(dir: string, version: 1 | 2): Promise<void> {
  for (let attempt = 0; attempt < 60; attempt++) {
    if (version === 2) {
      try {
        writeFileSync(join(dir, 'cgroup.kill'), '1');
      } catch {
        // Kernels before 5.14 have no cgroup.kill; the signals below do the same.
      }
    }
    for (const pid of pidsIn(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    try {
      // Off the event loop: a v1 rmdir waits for the kernel (RCU) for milliseconds.
      await rmdir(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      // EBUSY while the last tasks are reaped: usually a millisecond or two, so back off from 1 ms.
      await settle(Math.min(25, 2 ** attempt));
    }
  }
}

/**
 * Creates `oacp-<id>.<pid>.<pid namespace>` (stale.ts) under each controller's parent and writes the limits.
 * A directory shared by several resources (v2, or co-mounted v1
 * hierarchies) is made once. On any failure what was made is removed.
 */
export function createSandboxCgroup(host: CgroupHost, id: string, limits: CgroupLimits): SandboxCgroup {
  const placed = new Map<ResourceController, Placed>();
  const name = sandboxCgroupName(id);
  const made: { dir: string; version: 1 | 2 }[] = [];
  const remove = async (): Promise<void> => {
    // Siblings only (one per hierarchy), so all at once: each rmdir waits on the kernel, not on the others.
    await Promise.all(made.map(({ dir, version }) => removeDir(dir, version)));
  };
  try {
    for (const resource of ['memory', 'pids', 'cpu', 'io'] as const) {
      const support = host[resource];
      if (!support.available || !wanted(resource, limits)) continue;
      const dirs = support.parents.map((parent) => join(parent, name));
      for (const dir of dirs) {
        if (made.some((entry) => entry.dir === dir)) continue;
        mkdirSync(dir);
        made.push({ dir, version: support.version });
      }
      const entry = { version: support.version, dirs };
      placed.set(resource, entry);
      configure(resource, entry, limits);
    }
  } catch (error) {
    void remove();
    if (error instanceof OacpError) throw error;
    throw new OacpError<CgroupErrorCode>(
      'AIRLOCK_CGROUP_FAILED',
      `cannot create the sandbox cgroup: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const memory = placed.get('memory');
  const memoryDir = memory?.dirs[0];
  const cpu = placed.get('cpu');
  const pids = placed.get('pids')?.dirs[0];
  return {
    procsFiles: made.map((entry) => join(entry.dir, 'cgroup.procs')),
    cpuUsageMs() {
      if (cpu === undefined) return undefined;
      if (cpu.version === 2) {
        const usec = keyed(readText(join(cpu.dirs[0] ?? '', 'cpu.stat')), 'usage_usec');
        return usec === undefined ? undefined : usec / 1000;
      }
      for (const dir of cpu.dirs) {
        const ns = readText(join(dir, 'cpuacct.usage'));
        if (ns !== undefined) return Number(ns.trim()) / 1e6;
      }
      return undefined;
    },
    oomKills() {
      if (memoryDir === undefined) return 0;
      const file = memory?.version === 2 ? 'memory.events' : 'memory.oom_control';
      return keyed(readText(join(memoryDir, file)), 'oom_kill') ?? 0;
    },
    memoryPeakBytes() {
      if (memoryDir === undefined) return undefined;
      const file = memory?.version === 2 ? 'memory.peak' : 'memory.max_usage_in_bytes';
      const text = readText(join(memoryDir, file));
      return text === undefined ? undefined : Number(text.trim());
    },
    memoryCharge() {
      if (memoryDir === undefined) return undefined;
      const v2 = memory?.version === 2;
      const bytes = readText(join(memoryDir, v2 ? 'memory.current' : 'memory.usage_in_bytes'));
      const file = keyed(readText(join(memoryDir, 'memory.stat')), v2 ? 'file' : 'total_cache');
      if (bytes === undefined || file === undefined) return undefined;
      return { bytes: Number(bytes.trim()), fileBytes: file };
    },
    forksRefused() {
      return pids === undefined ? 0 : (keyed(readText(join(pids, 'pids.events')), 'max') ?? 0);
    },
    ...(pids === undefined ? {} : { pidsEventsFile: join(pids, 'pids.events') }),
    remove,
  };
}
