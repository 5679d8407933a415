import { existsSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { NetworkPolicy } from '../../capability/network-policy.js';
import { OacpError } from '../../core/errors.js';
import { readOwnMounts } from '../../core/mountinfo.js';
import type { EgressEvent } from '../egress/audit.js';
import type { EgressProxy } from '../egress/proxy.js';
import type { Resolver } from '../egress/resolver.js';
import type { ProcessSpec, TierName } from '../sandbox.js';
import { proxyEnvironment } from './egress-forwarder.js';
import { scrubEnvironment } from './env.js';
import type { NativeErrorCode } from './errors.js';
import { executionPath, resolveExecutable } from './executable.js';
import { closeAll, type OpenedPath, openNoFollow } from './grant-open.js';
import { existingRegistries, oacpHomeAt } from './home-registry.js';
import { kernelFilesystemProblem } from './kernel-filesystems.js';
import { SANDBOX_RUN_DIR } from './launcher/args.js';
import { launcherCacheDirectory } from './launcher/build.js';
import { type Mount, planMounts } from './mount-plan.js';
import {
  exposesHome,
  homeIdentities,
  knownHomeIdentities,
  mountExposingHome,
  protectedIdentities,
} from './protected-identity.js';
import { accountOacpHomePaths, overlapsProtected, protectedPaths } from './protected-paths.js';
import { underSystemDirs } from './system-root.js';

/** What a confined tier (hardened, gvisor) needs from a ProcessSpec, checked. */
export interface PreparedSpec {
  /** Absolute path of the program as the sandbox will exec it. */
  readonly executable: string;
  readonly mounts: readonly Mount[];
  /** For each mount, in order, the descriptor opened without following symlinks: what the tier binds. */
  readonly handles: readonly OpenedPath[];
  readonly cwd: string;
  readonly wantsEgress: boolean;
  /** With egress and unless `network.node_preload: false`: the Node preload is bound and in NODE_OPTIONS. */
  readonly nodePreload: boolean;
  /** Scrubbed environment plus HOME/TMPDIR and, with egress, the proxy variables and the Node preload (NODE_OPTIONS). */
  readonly env: Record<string, string>;
}

/** Directories a grant may never bind: the sandbox gets its own. */
const NEVER_BOUND = ['/proc', '/sys', '/dev'];

function isWithin(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root}/`);
}

function refuse(message: string): never {
  throw new OacpError<NativeErrorCode>('AIRLOCK_BAD_SPEC', message);
}

/**
 * Resolves the executable, plans the bind mounts and checks what a confined
 * sandbox cannot offer: host /proc, /sys or /dev, a working directory that is
 * not granted, network without the forwarder.
 */
export function prepareSpec(spec: ProcessSpec, tier: TierName, socat: string): PreparedSpec {
  const { manifest } = spec;
  const exe = resolveExecutable(spec.command, spec.cwd);
  // The system root binds /usr and the rest as trees, so a link there stays a link (and $0 its name).
  const executable = underSystemDirs(exe.path) ? exe.path : executionPath(exe);
  const implicit = [...(spec.implicitReadPaths ?? [])];
  // A script run at its real path needs no bind of its link (a file bound onto a symlink bwrap refuses).
  if (!underSystemDirs(exe.real)) implicit.push(...new Set([executable, exe.real]));
  const planned = planMounts(manifest.capabilities, implicit);
  const homes = protectedPaths(spec.protectedPaths ?? [], spec.env ?? {});
  // Every account's and every registered home, read (passwd, each registry, each home's markers:
  // 2.5 ms of a start with 140 registered homes) only when a start binds something: they are
  // compared with the grants alone, and with none there is nothing they could be shown through.
  // The named homes' guard (homeIdentities below) runs on every start regardless.
  const found = once(() => accountOacpHomePaths());
  const known = once(() => [...new Set(found().map((home) => home.real))]);
  const guarded = once(() => [...homes, ...found().flatMap((home) => [home.name, home.real])]);
  const launcherCache = launcherCaches();
  const registries = once(existingRegistries);
  for (const mount of planned) {
    const bad = NEVER_BOUND.find((dir) => isWithin(mount.target, dir) || isWithin(mount.source, dir));
    if (bad !== undefined) {
      refuse(`the ${tier} tier never binds host ${bad} (asked for ${mount.target}); the sandbox has its own`);
    }
    // A grant of /run hid the launcher it starts through ('bwrap: execvp /run/oacp/launch' and a failed run).
    if (isWithin(mount.target, SANDBOX_RUN_DIR) || isWithin(SANDBOX_RUN_DIR, mount.target)) {
      refuse(
        `the ${tier} tier keeps ${SANDBOX_RUN_DIR} for its launcher, filter and proxy socket (asked for ${mount.target}); grant a path beside it`,
      );
    }
    const home = overlapsProtected(mount.source, guarded()) ?? overlapsProtected(mount.target, guarded());
    if (home !== undefined) {
      refuse(overlapsHome(mount.target, home));
    }
    const registry = mount.writable
      ? (overlapsProtected(mount.source, registries()) ?? overlapsProtected(mount.target, registries()))
      : undefined;
    if (registry !== undefined) {
      refuse(
        `grant ${mount.target}:rw overlaps OACP's home registry ${registry} (how every sandbox start finds OACP homes a grant must not show): no sandbox may write it; grant a path outside it, or read-only`,
      );
    }
    const cache = mount.writable ? overlapsProtected(mount.source, launcherCache) : undefined;
    if (cache !== undefined) {
      refuse(
        `grant ${mount.target}:rw overlaps OACP's launcher cache ${cache} (the launcher and filters every sandbox starts through): no sandbox may write it; grant a path outside it, or read-only`,
      );
    }
  }
  const { mounts, handles } = openMounts(planned, homes, known, launcherCache, registries);
  if (spec.cwd !== undefined && !mounts.some((mount) => isWithin(spec.cwd ?? '', mount.target))) {
    closeAll(handles);
    refuse(`working directory ${spec.cwd} is not a granted path`);
  }
  const wantsEgress = manifest.capabilities.network.allowlist.length > 0;
  if (wantsEgress && !existsSync(socat)) {
    closeAll(handles);
    throw new OacpError<NativeErrorCode>(
      'AIRLOCK_TIER_UNAVAILABLE',
      `${tier} tier cannot give this sandbox network access: socat not found at ${socat} (apt-get install socat)`,
    );
  }
  const passed = scrubEnvironment(spec.env, manifest.capabilities.env);
  const nodePreload = wantsEgress && manifest.capabilities.network.node_preload !== false;
  return {
    executable,
    mounts,
    handles,
    cwd: spec.cwd ?? '/tmp',
    wantsEgress,
    nodePreload,
    env: {
      HOME: '/tmp',
      TMPDIR: '/tmp',
      ...passed,
      ...(wantsEgress ? proxyEnvironment(passed.NODE_OPTIONS, nodePreload) : {}),
    },
  };
}

function overlapsHome(grant: string, home: string): string {
  return `grant ${grant} overlaps the OACP home ${home} (master key, keys, log): no sandbox may see it; grant a path outside it`;
}

/** The host paths a manifest lets a sandbox write: their disks get the I/O throttle. */
export function writableGrants(manifest: ProcessSpec['manifest']): string[] {
  return planMounts(manifest.capabilities, [])
    .filter((mount) => mount.writable)
    .map((mount) => mount.source);
}

/**
 * The launcher cache (oacp-launch, the workload filter, /etc files, the gVisor compat library) by
 * name and real path: a workload that could write there would run its own code, unconfined, in
 * every later sandbox and in the light tier's guard on the host.
 */
function launcherCaches(): string[] {
  const dir = dirname(launcherCacheDirectory());
  const all = new Set([dir]);
  try {
    all.add(realpathSync(dir));
  } catch {
    // Not made yet: protected by name.
  }
  return [...all];
}

/** Each bound path is one descriptor held until the sandbox ends (the launcher keeps at most 256). */
const MAX_BOUND_PATHS = 200;

/**
 * Opens every planned source once, without following a symlink at any
 * component; a source gone since planning is dropped (nothing to expose).
 * What was opened must not be, or hold, a kernel filesystem (host /proc,
 * /sys, /dev, cgroups... under another name: kernel-filesystems.ts).
 * The home is also refused by identity, on what was opened: a bind mount or
 * a second mount of its filesystem shows it under a name the path check
 * above cannot know, and a mount inside a directory grant is bound with it.
 */
function openMounts(
  planned: readonly Mount[],
  homes: readonly string[],
  known: () => readonly string[],
  launcherCache: readonly string[],
  registries: () => readonly string[],
): { mounts: Mount[]; handles: OpenedPath[] } {
  if (planned.length > MAX_BOUND_PATHS) {
    refuse(
      `the grants expand to ${planned.length} paths to bind, over ${MAX_BOUND_PATHS}; grant their directory with /** instead of a wildcard`,
    );
  }
  const mounts: Mount[] = [];
  const handles: OpenedPath[] = [];
  // The home guard runs on every start (fail-closed, and no start while a key has a second
  // name); the launcher cache's identities and the mount table are read only when a start
  // opens something, once: nothing opened, nothing to compare.
  const homeGuard = homeIdentities(homes);
  const guard = () => homeGuard;
  const knownGuard = once(() => knownHomeIdentities(known()));
  const cacheGuard = once(() => protectedIdentities(launcherCache));
  // Lenient like the known homes' guard: another account's registry this user cannot stat
  // refuses nothing, and a match is confirmed by a walk that follows no symlink.
  const registryGuard = once(() => knownHomeIdentities(registries()));
  const mountTable = once(readOwnMounts);
  const mountPoints = once(() => mountTable().map((mount) => mount.mountPoint));
  const cacheName = "OACP's launcher cache";
  const registryName = "OACP's home registry";
  try {
    for (const mount of planned) {
      const opened = openNoFollow(
        mount.source,
        (components) =>
          exposesHome(components, guard()) ??
          exposesHome(components, knownGuard()) ??
          (mount.writable
            ? (exposesHome(components, cacheGuard(), cacheName) ??
              exposesHome(components, registryGuard(), registryName))
            : undefined),
      );
      if (opened === undefined) continue;
      handles.push(opened);
      const kernel = kernelFilesystemProblem(mount.source, opened.fd, opened.directory, mountTable());
      if (kernel !== undefined) refuse(kernel);
      const nested = opened.directory
        ? (mountExposingHome(mount.source, mountPoints(), guard()) ??
          mountExposingHome(mount.source, mountPoints(), knownGuard()) ??
          (mount.writable
            ? (mountExposingHome(mount.source, mountPoints(), cacheGuard(), cacheName) ??
              mountExposingHome(mount.source, mountPoints(), registryGuard(), registryName))
            : undefined))
        : undefined;
      if (nested !== undefined) refuse(nested);
      // A home no invocation names and no registry lists is still known by its own marker
      // files, read through the descriptor that will be bound.
      const marked = oacpHomeAt(mount.source, `/proc/self/fd/${opened.fd}`);
      if (marked !== undefined) refuse(overlapsHome(mount.target, marked));
      mounts.push(mount);
    }
  } catch (error) {
    closeAll(handles);
    throw error;
  }
  return { mounts, handles };
}

/** `compute` run on the first call only. */
function once<T>(compute: () => T): () => T {
  let value: { readonly is: T } | undefined;
  return () => {
    value ??= { is: compute() };
    return value.is;
  };
}

export interface EgressHooks {
  readonly resolver?: Resolver;
  readonly onEgressEvent?: (sandboxId: string, event: EgressEvent) => void;
}

/** The sandbox's egress proxy, listening on `socketPath` with the manifest's network policy. */
export async function startEgressProxy(
  sandboxId: string,
  spec: ProcessSpec,
  socketPath: string,
  hooks: EgressHooks,
  owner?: { uid: number; gid: number },
): Promise<EgressProxy> {
  // Loaded here, not at start-up: most sandboxes have no network allowlist and never run a proxy.
  const [{ EgressProxy }, { proxyRules }] = await Promise.all([
    import('../egress/proxy.js'),
    import('../egress/rules.js'),
  ]);
  const proxy = new EgressProxy({
    rules: proxyRules(NetworkPolicy.from(spec.manifest.capabilities.network)),
    quotas: spec.manifest.quotas,
    ...(spec.egressLimiter === undefined ? {} : { limiter: spec.egressLimiter }),
    ...(hooks.resolver === undefined ? {} : { resolver: hooks.resolver }),
    onEvent: (event) => hooks.onEgressEvent?.(sandboxId, event),
  });
  await proxy.listen(socketPath, owner);
  return proxy;
}
