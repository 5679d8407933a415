import { accessSync, constants, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Quotas } from '../../capability/manifest.js';

/** Whether this process may create cgroup v2 children with memory, pids and cpu limits. */
export type CgroupSupport =
  | { readonly delegated: true; readonly path: string }
  | { readonly delegated: false; readonly reason: string };

export interface CgroupProbe {
  /** Where the cgroup filesystem is mounted; a parameter so tests can use a fixture. */
  readonly mountPoint?: string;
  readonly mounts?: string;
  readonly selfCgroup?: string;
}

const NEEDED = ['memory', 'pids', 'cpu'];

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Delegation means: cgroup v2 is mounted at the mount point (not v1 or
 * hybrid), our own cgroup directory is writable, and the memory, pids and
 * cpu controllers are enabled for its children. Anything else is reported
 * with the reason, and the tiers fall back to rlimits and /proc polling.
 */
export function detectCgroupV2(probe: CgroupProbe = {}): CgroupSupport {
  const mountPoint = probe.mountPoint ?? '/sys/fs/cgroup';
  const mounts = probe.mounts ?? read('/proc/self/mounts') ?? '';
  const v2 = mounts.split('\n').some((line) => {
    const [, where, type] = line.split(' ');
    return where === mountPoint && type === 'cgroup2';
  });
  if (!v2)
    return { delegated: false, reason: `${mountPoint} is not a cgroup v2 mount (cgroup v1 or hybrid host)` };
  const self = probe.selfCgroup ?? read('/proc/self/cgroup') ?? '';
  const line = self.split('\n').find((entry) => entry.startsWith('0::'));
  if (line === undefined) return { delegated: false, reason: 'this process has no cgroup v2 membership' };
  const path = join(mountPoint, line.slice(3).trim());
  try {
    accessSync(path, constants.W_OK);
  } catch {
    return { delegated: false, reason: `cgroup ${path} is not writable by this user (not delegated)` };
  }
  const enabled = (read(join(path, 'cgroup.subtree_control')) ?? '').trim().split(/\s+/);
  const missing = NEEDED.filter((controller) => !enabled.includes(controller));
  if (missing.length > 0) {
    return {
      delegated: false,
      reason: `controllers ${missing.join(', ')} are not enabled in ${path}/cgroup.subtree_control`,
    };
  }
  return { delegated: true, path };
}

/** A child cgroup holding one sandbox; remove() after the workload has exited. */
export interface SandboxCgroup {
  readonly path: string;
  remove(): void;
}

/** Creates `<parent>/oacp-<id>` with memory.max, memory.swap.max, pids.max and cpu.max from the quotas. */
export function createSandboxCgroup(
  parent: string,
  id: string,
  quotas: Quotas,
  extraPids = 0,
): SandboxCgroup {
  const path = join(parent, `oacp-${id}`);
  mkdirSync(path);
  writeFileSync(join(path, 'memory.max'), String(quotas.memory_mb * 1024 * 1024));
  try {
    writeFileSync(join(path, 'memory.swap.max'), '0');
  } catch {
    // Hosts without swap accounting have no memory.swap.max; memory.max still holds.
  }
  writeFileSync(join(path, 'pids.max'), String(quotas.max_pids + extraPids));
  // One CPU at most: a busy loop cannot starve the host.
  writeFileSync(join(path, 'cpu.max'), '100000 100000');
  return {
    path,
    remove: () => {
      try {
        rmdirSync(path);
      } catch {
        // Still populated for a moment after exit, or already gone; the kernel frees it once empty.
      }
    },
  };
}

/**
 * `sh -c` prefix that moves itself into the cgroup, then execs the rest
 * ("$@"); with a user, it drops to that user after joining (joining needs
 * the privileges the sandbox user lacks).
 */
export function cgroupEnterArgs(cgroup: SandboxCgroup, user?: { uid: number; gid: number }): string[] {
  const drop =
    user === undefined
      ? []
      : ['/usr/bin/setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups'];
  return ['/bin/sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup.path, ...drop];
}
