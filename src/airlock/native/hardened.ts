import { randomUUID } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Manifest } from '../../capability/manifest.js';
import { OacpError } from '../../core/errors.js';
import {
  type CgroupHost,
  type DetectedCgroups,
  detectCgroupHostAndSweep,
  planResources,
  prepareResources,
  type SandboxResources,
} from '../cgroups/index.js';
import type { EgressEvent } from '../egress/audit.js';
import type { EgressProxy } from '../egress/proxy.js';
import type { Availability, ProcessSandbox, ProcessSpec, ProcessTier } from '../sandbox.js';
import { makeOwnedDir, sweepStaleSandboxDirs } from '../workdir/index.js';
import { probe } from './availability-probe.js';
import { bwrapArgs } from './bwrap-args.js';
import { forwarderArgs, SANDBOX_PROXY_SOCKET } from './egress-forwarder.js';
import type { NativeErrorCode } from './errors.js';
import { fetchProxyPreload } from './fetch-proxy.js';
import { closeAll } from './grant-open.js';
import { type Identity, resolveIdentity, WORKLOAD_ID } from './identity.js';
import { innerLaunchArgs, outerLaunchArgs, TMPFS_HOLDER } from './launcher/args.js';
import { cachedFile } from './launcher/cached-file.js';
import { Launcher, type LauncherHold } from './launcher/confinement.js';
import { stagingPoints } from './launcher/staging.js';
import { DEFAULT_POLL_MS, watchLimitsFromQuotas } from './limits.js';
import { deferLoaderVariables } from './loader-env.js';
import { guardPipe } from './orphan-guard.js';
import { type EgressHooks, prepareSpec, startEgressProxy, writableGrants } from './prepare.js';
import { keepPass, passedBefore, probeKey } from './probe-cache.js';
import { rlimitsFromQuotas } from './rlimits.js';
import { sandboxEtcView } from './sandbox-etc.js';
import { accessibleBy, type SandboxUser, sandboxUser } from './sandbox-user.js';
import { encodeProgram } from './seccomp/bpf.js';
import { buildSeccompFilter } from './seccomp/filter.js';
import { guardFd, spawnWorkload } from './spawn.js';
import { supervise } from './supervisor.js';
import { type SystemEntry, systemRootArgs, systemRootEntries } from './system-root.js';
import { tmpfsInodes } from './tmpfs-inodes.js';
import { sandboxUserCounts } from './user-counts.js';
import { type LeaseOptions, leaseWorkloadId, type WorkloadLease } from './workload-ids.js';

export interface HardenedTierOptions extends EgressHooks {
  readonly bwrapPath?: string;
  readonly socatPath?: string;
  readonly pollMs?: number;
  /** Where per-sandbox host directories (proxy socket, synthetic /etc) are made. */
  readonly workRoot?: string;
  /** Overrides cgroup detection (tests, or hosts where it must stay off). */
  readonly cgroups?: CgroupHost;
  /**
   * Host account of the workload. Default: the dedicated WORKLOAD_ID with
   * idmapped grants when OACP runs as root, the invoking user otherwise; see
   * resolveIdentity(). 'invoker' keeps root as root.
   */
  readonly runAs?: SandboxUser | 'invoker';
  /** How the dedicated ids are leased as root (tests: `start: 0` takes the lowest free one). */
  readonly workloadIds?: LeaseOptions;
  /**
   * Run the availability probe even when it passed before with the same key (probe-cache.ts):
   * `oacp doctor` asks the host, not a kept answer.
   */
  readonly freshProbe?: boolean;
  /** Where a passed probe is kept (default: the launcher's cache directory; tests use their own). */
  readonly probeCacheDir?: string;
}

/** A hardened or gVisor sandbox: a ProcessSandbox plus the decisions its egress proxy made. */
export interface NativeSandbox extends ProcessSandbox {
  egressEvents(): readonly EgressEvent[];
}

/** bwrap's descriptor for the first grant: after stdio and the seccomp program on 3. */
const FIRST_GRANT_FD = 4;

/** The launcher's orphan guard, bwrap, the sandbox's pid 1 inside, and the egress forwarder. */
const HELPER_PROCESSES = 4;
/** Tasks the pids cgroup counts for those helpers (bwrap, its pid 1, socat and their threads). */
const HELPER_TASKS = 8;
/**
 * Terminals (/dev/pts) one sandbox may hold. The kernel counts terminals for the whole host
 * (kernel.pty.max, 4096, of which all but kernel.pty.reserve, 1024, are shared by every devpts
 * instance but the host's own), and bwrap's instance has no cap: one sandbox held all 3072 and
 * every other sandbox and container failed to open /dev/ptmx (ENOSPC).
 */
export const SANDBOX_MAX_PTYS = 64;

/** Whether `dir` (its real path, when it exists) is TMPFS_HOLDER or under it. */
function underTmpfsHolder(dir: string): boolean {
  let real = resolve(dir);
  try {
    real = realpathSync(real);
  } catch {
    // Not there yet: its own path is what a later mkdtemp would use.
  }
  return real === TMPFS_HOLDER || real.startsWith(`${TMPFS_HOLDER}/`);
}

/**
 * Native processes under bubblewrap: all namespaces unshared, a read-only
 * minimal root holding only the system dirs, the executable and the granted
 * paths, a seccomp filter, no capabilities, rlimits, and network only through
 * a per-sandbox egress proxy. See docs/hardened-tier.md.
 */
export class HardenedTier implements ProcessTier {
  readonly name = 'hardened' as const;
  private availabilityCache: Promise<Availability> | undefined;
  private readonly bwrap: string;
  private readonly socat: string;
  /** Host facts that do not change while the process runs, computed once per tier. */
  private readonly seccomp = encodeProgram(buildSeccompFilter());
  private system: { readonly entries: SystemEntry[]; readonly args: string[] } | undefined;
  private readonly launcher = new Launcher();
  /** Where this process may create cgroups: detected on the first start (it reads /proc and /sys). */
  private cgroupHost: DetectedCgroups | undefined;
  /** The sweep of per-sandbox directories killed processes left (workdir/stale.ts), begun on the first start. */
  private dirSweep: Promise<number> | undefined;

  constructor(private readonly options: HardenedTierOptions = {}) {
    this.bwrap = options.bwrapPath ?? '/usr/bin/bwrap';
    this.socat = options.socatPath ?? '/usr/bin/socat';
  }

  private systemRoot(): { readonly entries: SystemEntry[]; readonly args: string[] } {
    if (this.system === undefined) {
      const entries = systemRootEntries();
      this.system = { entries, args: systemRootArgs(entries) };
    }
    return this.system;
  }

  private cgroups(): CgroupHost {
    if (this.options.cgroups !== undefined) return this.options.cgroups;
    this.cgroupHost ??= detectCgroupHostAndSweep();
    return this.cgroupHost.host;
  }

  availability(): Promise<Availability> {
    this.availabilityCache ??= this.detect();
    return this.availabilityCache;
  }

  async checkLimits(manifest: Manifest): Promise<void> {
    planResources({
      tier: 'hardened',
      host: this.cgroups(),
      quotas: manifest.quotas,
      grantPaths: writableGrants(manifest),
      extraPids: HELPER_TASKS,
    });
  }

  private async detect(): Promise<Availability> {
    if (!existsSync(this.bwrap)) {
      return {
        available: false,
        reason: `bubblewrap not found at ${this.bwrap}`,
        remedy: 'apt-get install bubblewrap',
      };
    }
    const user = sandboxUser(this.options.runAs);
    const args = [
      '--unshare-all',
      '--unshare-user',
      '--disable-userns',
      '--die-with-parent',
      '--ro-bind',
      '/',
      '/',
      'true',
    ];
    // A pass kept from an earlier process with the same key spares a start one child process (a
    // fork of this large one). A stale pass cannot weaken a sandbox: bwrap itself then fails to
    // make the namespaces at start, and the workload never runs.
    const key =
      this.options.freshProbe === true
        ? undefined
        : probeKey(this.bwrap, args, user === undefined ? 'invoker' : `${user.uid}:${user.gid}`);
    if (key === undefined || !passedBefore(key, this.options.probeCacheDir)) {
      const check = await probe(this.bwrap, args, 5_000, user);
      if (!check.ok) {
        return {
          available: false,
          reason: `bubblewrap cannot create namespaces here: ${check.output}`,
          remedy:
            'enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) or run where bwrap works',
        };
      }
      if (key !== undefined) keepPass(key, this.options.probeCacheDir);
    }
    const socat = existsSync(this.socat)
      ? 'egress via socat'
      : 'no socat: sandboxes with a network allowlist cannot start';
    return { available: true, detail: `bubblewrap at ${this.bwrap}, seccomp, ${socat}` };
  }

  async start(spec: ProcessSpec): Promise<NativeSandbox> {
    const availability = await this.availability();
    if (!availability.available) {
      throw new OacpError<NativeErrorCode>(
        'AIRLOCK_TIER_UNAVAILABLE',
        `hardened tier unavailable: ${availability.reason} (${availability.remedy})`,
      );
    }
    const id = `hardened-${randomUUID()}`;
    const { manifest } = spec;
    const workRoot = this.options.workRoot ?? tmpdir();
    if (underTmpfsHolder(workRoot))
      throw new OacpError<NativeErrorCode>(
        'AIRLOCK_BAD_SPEC',
        `the hardened tier's per-sandbox files cannot live under ${TMPFS_HOLDER} (${workRoot}): the launcher mounts the sandbox's capped /tmp and /dev/shm there, which hides them; set TMPDIR to another directory every user may search (such as /tmp)`,
      );
    this.dirSweep ??= sweepStaleSandboxDirs(workRoot);
    const prepared = prepareSpec(spec, 'hardened', this.socat);
    // Held until the sandbox is gone: where no launcher cache is safe, it is built for this start alone.
    let launcher: LauncherHold;
    try {
      launcher = this.launcher.hold();
    } catch (error) {
      closeAll(prepared.handles);
      throw error;
    }
    let identity: Identity;
    // As root each sandbox runs as a host id of its own (workload-ids.ts): per-uid kernel counters are not shared.
    let lease: WorkloadLease | undefined;
    try {
      if (this.options.runAs === undefined && process.getuid?.() === 0)
        lease = leaseWorkloadId(this.options.workloadIds);
      identity = resolveIdentity({
        ...(lease === undefined ? {} : { workload: lease.user }),
        requested: this.options.runAs,
        mounts: prepared.mounts,
        executable: prepared.executable,
        idmap: (index) => {
          const handle = prepared.handles[index];
          return handle !== undefined && this.launcher.idmapGrant(handle, workRoot).ok;
        },
        quotas: manifest.quotas,
        parents: true,
      });
    } catch (error) {
      lease?.release();
      closeAll(prepared.handles);
      launcher.release();
      throw error;
    }
    // The fallback identity (the grants' owner) needs no lease.
    if (lease !== undefined && identity.user?.uid !== lease.user.uid) {
      lease.release();
      lease = undefined;
    }
    const user = identity.user;
    // A private host directory only for what belongs to this sandbox alone: the egress proxy's socket and the
    // staging points of idmapped grants. The /etc files and the filter are shared, read-only (see cachedFile).
    // Its owner lock, held for the sandbox's life, tells a later start's sweep whether a directory's creator died.
    const owned =
      prepared.wantsEgress || identity.idmaps.length > 0
        ? makeOwnedDir(workRoot, 'oacp-hardened-')
        : undefined;
    const dir = owned?.path;
    // bwrap, running as the sandbox user, must reach the proxy socket.
    if (dir !== undefined && user !== undefined) chmodSync(dir, 0o711);
    if (dir !== undefined && user !== undefined && !accessibleBy(dir, user, 'execute')) {
      owned?.remove();
      closeAll(prepared.handles);
      lease?.release();
      launcher.release();
      throw new OacpError<NativeErrorCode>(
        'AIRLOCK_BAD_SPEC',
        `bwrap runs as the sandbox uid ${user.uid} and cannot reach its per-sandbox directory under ${workRoot}: set TMPDIR to a directory every user may search (such as /tmp)`,
      );
    }
    let proxy: EgressProxy | undefined;
    let resources: SandboxResources | undefined;
    let filterFd: number | undefined;
    let etcScratch: string | undefined;
    const closeFilter = (): void => {
      if (filterFd !== undefined) closeSync(filterFd);
      filterFd = undefined;
    };
    const cleanup = async (): Promise<void> => {
      closeFilter();
      await proxy?.close();
      await resources?.remove();
      // What killed OACP processes left (started with the first start's detection) is gone before this returns.
      await this.cgroupHost?.swept;
      await this.dirSweep;
      closeAll(prepared.handles);
      owned?.remove();
      if (etcScratch !== undefined) rmSync(etcScratch, { recursive: true, force: true });
      launcher.release();
      // Last: the sandbox's processes and cgroup are gone (the guard keeps its copy until then too).
      lease?.release();
    };
    try {
      // socket(AF_UNIX) only by name (`--allow-unix-sockets`): it makes host sockets in grants connectable.
      const confinement = this.launcher.cached({ unixSockets: manifest.capabilities.unix_sockets === true });
      const etc = sandboxEtcView(
        dirname(confinement.program),
        this.systemRoot().entries,
        lease === undefined ? (user?.uid ?? process.getuid?.() ?? 0) : WORKLOAD_ID,
        lease === undefined ? (user?.gid ?? process.getgid?.() ?? 0) : WORKLOAD_ID,
        () => {
          // A read-only launcher cache: this start's own /etc view, removed with the sandbox (bwrap,
          // as the sandbox uid, must pass through it).
          etcScratch = mkdtempSync(join(workRoot, 'oacp-etc-'));
          chmodSync(etcScratch, 0o711);
          return etcScratch;
        },
      );
      const socket = join(dir ?? workRoot, 'egress.sock');
      // With the proxy, Node's fetch and node:http(s) are pointed at it by a preload (NODE_OPTIONS, fetch-proxy.ts).
      const binds = prepared.nodePreload && dir !== undefined ? [...etc, ...fetchProxyPreload(dir)] : etc;
      if (prepared.wantsEgress) proxy = await startEgressProxy(id, spec, socket, this.options, user);
      resources = prepareResources({
        id,
        tier: 'hardened',
        host: this.cgroups(),
        quotas: manifest.quotas,
        grantPaths: prepared.mounts.filter((mount) => mount.writable).map((mount) => mount.source),
        extraPids: HELPER_TASKS,
      });
      const cgroup = resources.cgroup;
      const tmpBytes = manifest.quotas.tmp_mb * 1024 * 1024;
      const shmBytes =
        (resources.memoryByKernel ? manifest.quotas.memory_mb : manifest.quotas.tmp_mb) * 1024 * 1024;
      const sandboxArgs = bwrapArgs({
        system: this.systemRoot().args,
        etc: binds,
        mounts: prepared.mounts,
        mountFds: prepared.handles.map((_, index) => FIRST_GRANT_FD + index),
        launcher: confinement,
        cappedPtys: true,
        cappedTmpfs: true,
        tmpBytes,
        shmBytes,
        ...(prepared.wantsEgress ? { proxySocket: { source: socket, target: SANDBOX_PROXY_SOCKET } } : {}),
        cwd: prepared.cwd,
        seccompFd: 3,
        ...(lease === undefined ? {} : { insideId: WORKLOAD_ID }),
      });
      const limits = rlimitsFromQuotas(manifest.quotas, { extraProcesses: prepared.wantsEgress ? 1 : 0 });
      // One launcher exec inside: rlimits (after bwrap's user namespace, so RLIMIT_NPROC counts only this
      // sandbox), descriptors, filter; with egress, the rlimits come first so the forwarder is bounded too.
      const inner = [
        ...(prepared.wantsEgress
          ? [...innerLaunchArgs({ limits, filter: false }), ...forwarderArgs(), ...innerLaunchArgs()]
          : innerLaunchArgs({ limits })),
        prepared.executable,
        ...spec.args,
      ];
      // The seccomp program from its read-only file in the launcher cache, opened for this start: bwrap reads it
      // to the end from its fd 3. A descriptor of its own per start, so concurrent starts never share an offset.
      filterFd = openSync(cachedFile(dirname(confinement.program), 'bwrap-filter', this.seccomp), 'r');
      const extraFds = [
        filterFd,
        ...prepared.handles.map((handle) => handle.fd),
        ...(lease === undefined ? [] : [lease.fd]),
      ];
      // The lease is the last extra descriptor: 3 is the filter, then the grants.
      const hold = lease === undefined ? undefined : FIRST_GRANT_FD + prepared.handles.length;
      const keep = [3, ...prepared.handles.map((_, index) => FIRST_GRANT_FD + index)];
      const points =
        dir === undefined || identity.idmaps.length === 0 ? [] : stagingPoints(dir, prepared.handles);
      const idmap = identity.idmaps.map(({ index, owner }) => ({
        fd: FIRST_GRANT_FD + index,
        uid: owner.uid,
        gid: owner.gid,
        path: points[index] ?? '',
      }));
      // One exec outside: guard, descriptors, idmapped grants, cgroup join, then the drop to the sandbox user.
      const [command = this.bwrap, ...args] = [
        ...outerLaunchArgs(confinement.program, {
          guard: guardFd({ extraFds }),
          keep,
          ...(user === undefined || idmap.length === 0 ? {} : { as: user, idmap }),
          ptys: SANDBOX_MAX_PTYS,
          tmpfs: { tmpBytes, shmBytes, inodes: tmpfsInodes(manifest.quotas.tmp_mb) },
          // As root the sandbox runs as a leased id whose counts are its own; a regular user's are shared.
          ...(process.getuid?.() === 0 ? {} : { userCounts: sandboxUserCounts() }),
          cgroups: cgroup?.procsFiles ?? [],
          ...(hold === undefined ? {} : { hold, reclaim: true }),
          ...(user === undefined ? {} : { user }),
        }),
        this.bwrap,
        ...sandboxArgs,
        '--',
        ...inner,
      ];
      const child = await spawnWorkload({
        command,
        args,
        // The launcher and bwrap start on the host: LD_PRELOAD and the like reach only the workload's exec.
        env: deferLoaderVariables(prepared.env),
        extraFds,
        guard: true,
      });
      // The child has its own copy.
      closeFilter();
      const running = proxy;
      const watch = watchLimitsFromQuotas(
        manifest.quotas,
        this.options.pollMs ?? DEFAULT_POLL_MS,
        HELPER_PROCESSES,
      );
      const sandbox = supervise({
        id,
        tier: 'hardened',
        child,
        // The whole sandbox (group and cgroup) dies with this process, kill -9 included.
        guard: guardPipe(child, guardFd({ extraFds })),
        limits: resources.memoryByKernel ? { ...watch, memoryBytes: undefined } : watch,
        ...(cgroup === undefined ? {} : { meter: cgroup }),
        // RLIMIT_NPROC binds before the pids cgroup (max_pids + helpers), and the kernel counts no refusal of it.
        taskLimit: limits.nproc,
        ...(resources.plan.limits.memoryBytes === undefined
          ? {}
          : { kernelMemoryBytes: resources.plan.limits.memoryBytes }),
        egress: () => ({ requests: running?.audit.requests ?? 0, denied: running?.audit.denied ?? 0 }),
        cleanup,
      });
      return { ...sandbox, egressEvents: () => running?.audit.events ?? [] };
    } catch (error) {
      await cleanup();
      throw error;
    }
  }
}
