import { accessSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The resources OACP limits through cgroups. `cpu` is bandwidth plus the
 * kernel's usage counter (cpu+cpuacct on v1, cpu on v2); `io` is blkio on v1
 * and io on v2.
 */
export const RESOURCE_CONTROLLERS = ['memory', 'pids', 'cpu', 'io'] as const;
export type ResourceController = (typeof RESOURCE_CONTROLLERS)[number];

/** Where one sandbox's cgroup for a resource is created, or why it cannot be. */
export type ControllerSupport =
  | {
      readonly available: true;
      readonly version: 1 | 2;
      /** Parent directories; v1 `cpu` needs two (cpu and cpuacct) unless they are co-mounted. */
      readonly parents: readonly string[];
    }
  | { readonly available: false; readonly reason: string };

export type CgroupHost = Readonly<Record<ResourceController, ControllerSupport>>;

/** Host files the detection reads; parameters so tests can describe other hosts. */
export interface CgroupHostProbe {
  readonly mounts?: string;
  readonly selfCgroup?: string;
  readonly writable?: (path: string) => boolean;
  readonly read?: (path: string) => string | undefined;
  /** Tries `+controller` in a v2 parent's cgroup.subtree_control; false when the kernel says no. */
  readonly enable?: (parent: string, controller: string) => boolean;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function isWritable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Leaf that holds OACP's own processes when its cgroup must hand controllers to children. */
export const SUPERVISOR_LEAF = 'oacp-supervisor';

/**
 * Writes `+controller` into the parent's subtree_control. cgroup v2 refuses
 * (EBUSY) while the parent itself holds processes ("no internal
 * processes"), which is the usual state of a delegated scope or a
 * container's cgroup: then this cgroup's processes move into a leaf child
 * first, as container runtimes do, and the write is tried again.
 */
function enableController(parent: string, controller: string): boolean {
  const enable = (): boolean => {
    try {
      writeFileSync(join(parent, 'cgroup.subtree_control'), `+${controller}`);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EBUSY') throw error;
      return false;
    }
  };
  try {
    if (enable()) return true;
    const leaf = join(parent, SUPERVISOR_LEAF);
    mkdirSync(leaf, { recursive: true });
    // A busy cgroup forks, execs and reaps while this runs, so one pass can miss a
    // process forked after the listing, and one that is exiting is still listed but
    // not moved (the kernel skips it) until it has gone. Whether the cgroup is empty
    // is the kernel's answer to the enable, so a move that fails is not an error
    // here: what is left is moved in a later round, after a wait (about 1 s in all).
    for (let round = 0; round < ENABLE_ROUNDS; round++) {
      const pids = (readText(join(parent, 'cgroup.procs')) ?? '').split('\n').filter((pid) => pid.length > 0);
      for (const pid of pids) moveProcess(leaf, pid);
      if (enable()) return true;
      pause(Math.min(50, 2 ** round));
    }
    return false;
  } catch {
    return false;
  }
}

const ENABLE_ROUNDS = 25;

function moveProcess(leaf: string, pid: string): void {
  try {
    writeFileSync(join(leaf, 'cgroup.procs'), pid);
  } catch {
    // Gone (ESRCH), exiting, or not ours to move: the next enable says whether it matters.
  }
}

/** A short wait inside detectCgroupHost, which is synchronous. */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** For reports (`oacp doctor`): whether enabling would be attempted, without moving anything. */
export function canEnableController(parent: string): boolean {
  return isWritable(join(parent, 'cgroup.subtree_control'));
}

/** The cgroup directory at `self` below a mount, without a trailing slash. */
function under(mount: string, self: string): string {
  return join(mount, self).replace(/(.)\/+$/, '$1');
}

interface Mount {
  readonly where: string;
  readonly type: string;
  readonly options: readonly string[];
}

function parseMounts(text: string): Mount[] {
  return text.split('\n').flatMap((line) => {
    const [, where, type, options] = line.split(' ');
    if (where === undefined || type === undefined || options === undefined) return [];
    return [{ where: where.replace(/\\040/g, ' '), type, options: options.split(',') }];
  });
}

/** `N:controllers:/path` lines of /proc/self/cgroup, keyed by controller ('' for v2). */
function selfPaths(text: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (match === null) continue;
    for (const name of (match[1] ?? '').split(',')) paths.set(name, match[2] ?? '/');
  }
  return paths;
}

const V1_NAMES: Record<ResourceController, readonly string[]> = {
  memory: ['memory'],
  pids: ['pids'],
  cpu: ['cpu', 'cpuacct'],
  io: ['blkio'],
};

const V2_NAMES: Record<ResourceController, string> = { memory: 'memory', pids: 'pids', cpu: 'cpu', io: 'io' };

interface Probe {
  readonly mounts: Mount[];
  readonly self: Map<string, string>;
  readonly writable: (path: string) => boolean;
  readonly read: (path: string) => string | undefined;
  readonly enable: (parent: string, controller: string) => boolean;
}

function v1Support(probe: Probe, resource: ResourceController): ControllerSupport {
  const parents: string[] = [];
  for (const name of V1_NAMES[resource]) {
    const mount = probe.mounts.find((entry) => entry.type === 'cgroup' && entry.options.includes(name));
    const self = probe.self.get(name);
    if (mount === undefined || self === undefined)
      return { available: false, reason: `no cgroup v1 ${name} hierarchy` };
    const parent = under(mount.where, self);
    if (!probe.writable(parent))
      return {
        available: false,
        reason: `cgroup v1 ${name} at ${parent} is not writable by uid ${process.getuid?.() ?? '?'} (v1 needs root)`,
      };
    if (!parents.includes(parent)) parents.push(parent);
  }
  return { available: true, version: 1, parents };
}

function v2Support(probe: Probe, resource: ResourceController): ControllerSupport | undefined {
  const mount = probe.mounts.find((entry) => entry.type === 'cgroup2');
  const own = probe.self.get('');
  if (mount === undefined || own === undefined) return undefined;
  // Once OACP has moved itself into its leaf, sandboxes still go beside the leaf, not below it.
  const self = own.endsWith(`/${SUPERVISOR_LEAF}`) ? own.slice(0, -SUPERVISOR_LEAF.length - 1) || '/' : own;
  const parent = under(mount.where, self);
  const name = V2_NAMES[resource];
  const offered = (probe.read(join(parent, 'cgroup.controllers')) ?? '').trim().split(/\s+/);
  if (!offered.includes(name)) return undefined;
  if (!probe.writable(parent))
    return { available: false, reason: `cgroup v2 ${parent} is not delegated to this user` };
  const enabled = (probe.read(join(parent, 'cgroup.subtree_control')) ?? '').trim().split(/\s+/);
  if (!enabled.includes(name) && !probe.enable(parent, name))
    return {
      available: false,
      reason: `cgroup v2 ${name} cannot be enabled in ${parent}/cgroup.subtree_control (processes in that cgroup, or not delegated)`,
    };
  return { available: true, version: 2, parents: [parent] };
}

/**
 * Per resource: the v2 controller when this process's v2 cgroup offers it
 * and may create children with it, else the v1 hierarchy when it is
 * mounted and writable, else the reason neither works. New cgroups nest
 * under this process's own, so they never escape a limit placed on OACP.
 */
export function detectCgroupHost(options: CgroupHostProbe = {}): CgroupHost {
  const probe: Probe = {
    mounts: parseMounts(options.mounts ?? readText('/proc/self/mounts') ?? ''),
    self: selfPaths(options.selfCgroup ?? readText('/proc/self/cgroup') ?? ''),
    writable: options.writable ?? isWritable,
    read: options.read ?? readText,
    enable: options.enable ?? enableController,
  };
  const support = (resource: ResourceController): ControllerSupport => {
    const v2 = v2Support(probe, resource);
    if (v2?.available === true) return v2;
    const v1 = v1Support(probe, resource);
    if (v1.available || v2 === undefined) return v1;
    return v2;
  };
  return { memory: support('memory'), pids: support('pids'), cpu: support('cpu'), io: support('io') };
}
