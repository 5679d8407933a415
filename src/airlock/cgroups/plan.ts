import type { Quotas, UnenforcedName } from '../../capability/manifest.js';
import { OacpError } from '../../core/errors.js';
import { blockDeviceOf } from './block-device.js';
import type { CgroupErrorCode } from './errors.js';
import type { CgroupHost, ResourceController } from './host.js';
import type { CgroupLimits } from './sandbox-cgroup.js';

/** The opt-outs that name a resource (`identity` is the Airlock's, see native/identity.ts). */
type ResourceName = Exclude<UnenforcedName, 'identity'>;

const CONTROLLER: Record<ResourceName, ResourceController> = {
  memory: 'memory',
  pids: 'pids',
  cpu: 'cpu',
  disk_io: 'io',
};

const QUOTA_FIELD: Record<ResourceName, string> = {
  memory: 'memory_mb',
  pids: 'max_pids',
  cpu: 'cpu_ms_per_request and cpu_ms_total',
  disk_io: 'disk_io_mb_per_s',
};

/** What stands in for a resource whose controller is missing, once the user accepts it. */
export const FALLBACK: Record<ResourceName, string> = {
  memory: 'resident memory polled from /proc (shared memory, memfd and tmpfs pages not counted)',
  pids: 'RLIMIT_NPROC (shared by every process of the uid) and a polled process count',
  cpu: 'CPU time polled from /proc; no bandwidth cap',
  disk_io: 'no disk I/O limit',
};

export interface ResourcePlanInput {
  readonly tier: string;
  readonly host: CgroupHost;
  readonly quotas: Quotas;
  /**
   * Host paths the sandbox may write (`:rw` grants); their disks get the I/O
   * throttle. /tmp is tmpfs (charged to memory) and reads of the system root
   * are not throttled.
   */
  readonly grantPaths: readonly string[];
  /** Tasks (processes and threads) of the tier's own helpers, on top of `max_pids`. */
  readonly extraPids: number;
  /** Memory of the tier's own machinery (the gVisor sentry and gofer), on top of `memory_mb`. */
  readonly memoryOverheadBytes?: number;
}

export interface ResourcePlan {
  readonly limits: CgroupLimits;
  /** The opted-out resources and what stands in for each, for doctor and logs. */
  readonly fallbacks: Readonly<Partial<Record<UnenforcedName, string>>>;
}

function ioPlan(input: ResourcePlanInput): { devices: string[]; unthrottled: string[] } {
  const devices = new Set<string>();
  const unthrottled: string[] = [];
  for (const path of input.grantPaths) {
    const device = blockDeviceOf(path);
    if (device === undefined) unthrottled.push(path);
    else devices.add(device);
  }
  return { devices: [...devices], unthrottled };
}

/**
 * Decides the kernel limits of one sandbox. Every quota with a controller
 * on this host becomes a cgroup limit; a quota without one is a refusal
 * naming the reason, the fallback and the opt-out, unless the user listed
 * it in `quotas.allow_unenforced`.
 */
export function planResources(input: ResourcePlanInput): ResourcePlan {
  const { host, quotas } = input;
  const allowed = new Set<string>(quotas.allow_unenforced);
  const missing: { name: ResourceName; reason: string }[] = [];
  const fallbacks: Partial<Record<UnenforcedName, string>> = {};
  const usable = (name: ResourceName): boolean => {
    const support = host[CONTROLLER[name]];
    if (support.available) return true;
    if (allowed.has(name)) fallbacks[name] = FALLBACK[name];
    else missing.push({ name, reason: support.reason });
    return false;
  };
  const limits: {
    memoryBytes?: number;
    pids?: number;
    cpus?: number;
    io?: { bytesPerSecond: number; devices: string[] };
  } = {};
  if (usable('memory'))
    limits.memoryBytes = quotas.memory_mb * 1024 * 1024 + (input.memoryOverheadBytes ?? 0);
  if (usable('pids')) limits.pids = quotas.max_pids + input.extraPids;
  if (usable('cpu')) limits.cpus = 1;
  const io = ioPlan(input);
  if (io.devices.length > 0 && usable('disk_io'))
    limits.io = { bytesPerSecond: quotas.disk_io_mb_per_s * 1024 * 1024, devices: io.devices };
  if (io.unthrottled.length > 0 && !allowed.has('disk_io') && !missing.some((m) => m.name === 'disk_io'))
    missing.push({
      name: 'disk_io',
      reason: `${io.unthrottled.join(', ')} is on a file system without a block device to throttle`,
    });
  else if (io.unthrottled.length > 0) fallbacks.disk_io = FALLBACK.disk_io;
  if (missing.length > 0) throw unenforcedError(input.tier, missing);
  return { limits, fallbacks };
}

function unenforcedError(
  tier: string,
  missing: readonly { name: ResourceName; reason: string }[],
): OacpError<CgroupErrorCode> {
  const names = missing.map((entry) => entry.name);
  const what = missing
    .map((entry) => `${QUOTA_FIELD[entry.name]} (${entry.reason}; fallback: ${FALLBACK[entry.name]})`)
    .join('; ');
  return new OacpError<CgroupErrorCode>(
    'AIRLOCK_LIMIT_UNENFORCED',
    `${tier} tier cannot enforce ${what}. Run as root or under a delegated cgroup v2 subtree, or accept the fallback with --allow-unenforced ${names.join(',')} (manifest: quotas.allow_unenforced: [${names.join(', ')}])`,
  );
}
