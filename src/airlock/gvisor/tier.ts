import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import type { EgressProxy } from '../egress/proxy.js';
import { forwarderArgs, SANDBOX_PROXY_SOCKET } from '../native/egress-forwarder.js';
import type { NativeErrorCode } from '../native/errors.js';
import { fetchProxyPreload } from '../native/fetch-proxy.js';
import { closeAll } from '../native/grant-open.js';
import type { NativeSandbox } from '../native/hardened.js';
import type { LauncherHold } from '../native/launcher/confinement.js';
import { DEFAULT_POLL_MS, watchLimitsFromQuotas } from '../native/limits.js';
import { deferLoaderVariables } from '../native/loader-env.js';
import { guardPipe } from '../native/orphan-guard.js';
import { type EgressHooks, prepareSpec, startEgressProxy, writableGrants } from '../native/prepare.js';
import { rlimitsFromQuotas } from '../native/rlimits.js';
import { writeSandboxEtc } from '../native/sandbox-etc.js';
import { guardFd, spawnWorkload } from '../native/spawn.js';
import { supervise } from '../native/supervisor.js';
import { systemRootEntries } from '../native/system-root.js';
import type { Availability, ProcessSpec, ProcessTier } from '../sandbox.js';
import { makeOwnedDir, sweepStaleSandboxDirs } from '../workdir/index.js';
import { writeBundle } from './bundle.js';
import { COMPAT_NOTE, writePreloadList } from './compat-library.js';
import { GvisorConfinement } from './confinement.js';
import { GVISOR_BOOT_CPU_MS, gvisorStartupCpuMs } from './cpu-allowance.js';
import { type Launched, measureFootprint, PROBE_ALLOWANCE_BYTES } from './footprint.js';
import { hostFootprint } from './footprint-cache.js';
import { memoryFileMeter } from './memory-file.js';
import { ociConfig } from './oci-config.js';
import { probeRunsc } from './probe.js';
import { type RunscOptions, runscDelete, runscRunArgs } from './runsc.js';
import { refuseSpecialFileGrants } from './special-grants.js';

export interface GvisorTierOptions extends EgressHooks {
  readonly runscPath?: string;
  readonly socatPath?: string;
  readonly pollMs?: number;
  readonly workRoot?: string;
  /**
   * Memory the gVisor kernel (sentry, gofer) itself uses, added to
   * `memory_mb` in the sandbox's memory cgroup (docs/resources.md#gvisor).
   * Default: measured on this host at the first start (footprint.ts).
   */
  readonly overheadBytes?: number;
  /** Overrides cgroup detection (tests). */
  readonly cgroups?: CgroupHost;
}

/** The launcher's orphan guard, runsc's own processes (runsc run, sandbox, gofer and their helpers) and the forwarder. */
const HELPER_PROCESSES = 9;
/**
 * Host tasks of runsc itself (Go threads of runsc, the sentry and the
 * gofer) that the pids cgroup counts beside the workload's.
 */
const HELPER_TASKS = 192;
/**
 * Host tasks one workload task may cost under the ptrace platform: its stub
 * thread, the sentry thread tracing it, and sentry threads blocked in host
 * calls on its behalf. A fixed allowance was too small for a multi-process
 * workload: measured in the pids cgroup, a node server 170 host tasks in
 * all, puppeteer's server with headless chromium (within the workload's
 * max_pids of 128, which the sentry's RLIMIT_NPROC enforces) 554, so the
 * kernel refused its threads at 320 and the server died.
 */
const HOST_TASKS_PER_WORKLOAD_TASK = 4;

/** What the pids cgroup allows beside `max_pids`: runsc's own tasks, and each workload task's cost on the host. */
function hostTaskAllowance(maxPids: number): number {
  return HELPER_TASKS + (HOST_TASKS_PER_WORKLOAD_TASK - 1) * maxPids;
}
/**
 * Where memory is only polled (no memory controller, opted out by name):
 * the sentry's and gofer's resident memory on top of `memory_mb`. Polling
 * cannot tell the workload's pages from the sentry's, so this stays loose.
 */
const POLLED_OVERHEAD_BYTES = 64 * 1024 * 1024;

const MIB = 1024 * 1024;

function unusable(output: string): Availability {
  return {
    available: false,
    reason: `runsc cannot start a sandbox here: ${output}`,
    remedy: 'allow ptrace (kernel.yama.ptrace_scope <= 1) and run as root or with user namespaces enabled',
  };
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * The hardened policy inside gVisor: the workload talks to a user-space
 * kernel (runsc, ptrace platform) instead of the host's, with the same
 * minimal read-only root, grants, rlimits and egress proxy. The bundle and
 * container state live in a private directory removed on exit.
 */
export class GvisorTier implements ProcessTier {
  readonly name = 'gvisor' as const;
  private availabilityCache: Promise<Availability> | undefined;
  private readonly runsc: string;
  private readonly socat: string;
  private readonly confinement = new GvisorConfinement();
  /** Where this process may create cgroups: detected on the first start (it reads /proc and /sys). */
  private cgroupHost: DetectedCgroups | undefined;
  /** The sweep of per-sandbox directories killed processes left (workdir/stale.ts), begun on the first start. */
  private dirSweep: Promise<number> | undefined;
  /** The gVisor kernel's own memory charge here, measured once by the availability probe. */
  private footprintBytes: number | undefined;

  constructor(private readonly options: GvisorTierOptions = {}) {
    this.runsc = options.runscPath ?? '/usr/bin/runsc';
    this.socat = options.socatPath ?? '/usr/bin/socat';
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
      tier: 'gvisor',
      host: this.cgroups(),
      quotas: manifest.quotas,
      grantPaths: writableGrants(manifest),
      extraPids: hostTaskAllowance(manifest.quotas.max_pids),
    });
  }

  private async detect(): Promise<Availability> {
    if (!existsSync(this.runsc)) {
      return {
        available: false,
        reason: `gVisor runsc not found at ${this.runsc}`,
        remedy: 'apt-get install runsc',
      };
    }
    const memory = this.cgroups().memory;
    if (this.options.overheadBytes === undefined && memory.available) {
      try {
        // Measured once per host and runsc; the probes that measure also prove runsc works here.
        const footprint = await hostFootprint(this.runsc, !isRoot(), memory.version, () =>
          measureFootprint((spec) => this.launch(spec, PROBE_ALLOWANCE_BYTES)),
        );
        this.footprintBytes = footprint?.bytes;
        if (footprint?.measured === true) return { available: true, detail: this.describe() };
      } catch (error) {
        const result = await probeRunsc(this.runsc, this.options.workRoot ?? tmpdir(), isRoot());
        return result.ok
          ? {
              available: false,
              reason: error instanceof Error ? error.message : String(error),
              remedy:
                'check that the memory cgroup is writable (oacp doctor), or pass GvisorTierOptions.overheadBytes',
            }
          : unusable(result.output);
      }
    }
    const result = await probeRunsc(this.runsc, this.options.workRoot ?? tmpdir(), isRoot());
    return result.ok ? { available: true, detail: this.describe() } : unusable(result.output);
  }

  private describe(): string {
    const footprint =
      this.footprintBytes === undefined
        ? ''
        : `, its kernel's own memory measured at ${(this.footprintBytes / MIB).toFixed(1)} MiB`;
    return `runsc at ${this.runsc}, ptrace platform, network none${footprint}; ${COMPAT_NOTE}`;
  }

  /** What the memory cgroup allows on top of `memory_mb`: undefined before availability() has run. */
  memoryOverheadBytes(): number | undefined {
    if (this.options.overheadBytes !== undefined) return this.options.overheadBytes;
    return this.cgroups().memory.available ? this.footprintBytes : POLLED_OVERHEAD_BYTES;
  }

  async start(spec: ProcessSpec): Promise<NativeSandbox> {
    const availability = await this.availability();
    const overheadBytes = this.memoryOverheadBytes();
    if (!availability.available || overheadBytes === undefined) {
      throw new OacpError<NativeErrorCode>(
        'AIRLOCK_TIER_UNAVAILABLE',
        availability.available
          ? 'gvisor tier unavailable: the memory its own kernel uses here was not measured'
          : `gvisor tier unavailable: ${availability.reason} (${availability.remedy})`,
      );
    }
    return (await this.launch(spec, overheadBytes)).sandbox;
  }

  /** Starts one sandbox whose memory cgroup allows `memory_mb` plus `overheadBytes`. */
  private async launch(spec: ProcessSpec, overheadBytes: number): Promise<Launched> {
    const id = `gvisor-${randomUUID()}`;
    const { manifest } = spec;
    const prepared = prepareSpec(spec, 'gvisor', this.socat);
    try {
      refuseSpecialFileGrants(prepared);
    } catch (error) {
      closeAll(prepared.handles);
      throw error;
    }
    const workRoot = this.options.workRoot ?? tmpdir();
    this.dirSweep ??= sweepStaleSandboxDirs(workRoot);
    // Its owner lock, held for the sandbox's life, tells a later start's sweep whether a directory's creator died.
    const owned = makeOwnedDir(workRoot, 'oacp-gvisor-');
    const dir = owned.path;
    const runsc: RunscOptions = {
      runsc: this.runsc,
      stateRoot: join(dir, 'state'),
      hostUds: prepared.wantsEgress,
      rootless: !isRoot(),
    };
    let proxy: EgressProxy | undefined;
    let started = false;
    let resources: SandboxResources | undefined;
    let launcher: LauncherHold | undefined;
    const cleanup = async (): Promise<void> => {
      if (started) await runscDelete(runsc, id);
      await resources?.remove();
      // What killed OACP processes left (started with the first start's detection) is gone before this returns.
      await this.cgroupHost?.swept;
      await this.dirSweep;
      await proxy?.close();
      closeAll(prepared.handles);
      owned.remove();
      launcher?.release();
    };
    try {
      mkdirSync(runsc.stateRoot);
      launcher = this.confinement.hold();
      const confined = this.confinement.prepare(dir, prepared, {
        workRoot: this.options.workRoot ?? tmpdir(),
        quotas: manifest.quotas,
      });
      const etc = [
        ...writeSandboxEtc(dir, confined.user.uid, confined.user.gid),
        writePreloadList(dir),
        // With the proxy, Node's fetch and node:http(s) are pointed at it by a preload (NODE_OPTIONS, fetch-proxy.ts).
        ...(prepared.nodePreload ? fetchProxyPreload(dir) : []),
      ];
      const socket = join(dir, 'egress.sock');
      if (prepared.wantsEgress)
        proxy = await startEgressProxy(id, spec, socket, this.options, confined.hostOwner);
      const system = systemRootEntries();
      const config = ociConfig({
        args: [
          ...(prepared.wantsEgress ? forwarderArgs() : []),
          ...confined.inner,
          prepared.executable,
          ...spec.args,
        ],
        user: confined.user,
        // The launcher inside installs the workload filter first: LD_PRELOAD and the like reach only the workload.
        env: deferLoaderVariables(prepared.env),
        cwd: prepared.cwd,
        system,
        etc,
        mounts: confined.mounts,
        ...(prepared.wantsEgress ? { proxySocket: { source: socket, target: SANDBOX_PROXY_SOCKET } } : {}),
        tmpBytes: manifest.quotas.tmp_mb * 1024 * 1024,
        shmBytes: manifest.quotas.memory_mb * 1024 * 1024,
        rlimits: rlimitsFromQuotas(manifest.quotas, { extraProcesses: prepared.wantsEgress ? 1 : 0 }),
      });
      const bundle = join(dir, 'bundle');
      writeBundle(
        bundle,
        config,
        system.flatMap((entry) => (entry.kind === 'symlink' ? [entry] : [])),
      );
      // The whole runsc tree (sentry, gofer) joins the cgroup: the workload's memory lives in the sentry.
      resources = prepareResources({
        id,
        tier: 'gvisor',
        host: this.cgroups(),
        quotas: manifest.quotas,
        grantPaths: prepared.mounts.filter((mount) => mount.writable).map((mount) => mount.source),
        extraPids: hostTaskAllowance(manifest.quotas.max_pids),
        memoryOverheadBytes: overheadBytes,
      });
      const extraFds = prepared.handles.map((handle) => handle.fd);
      const [command = this.runsc, ...args] = [
        ...confined.outer({ guard: guardFd({ extraFds }), cgroups: resources.cgroup?.procsFiles ?? [] }),
        this.runsc,
        ...runscRunArgs(runsc, bundle, id),
      ];
      const child = await spawnWorkload({
        command,
        args,
        env: { PATH: '/usr/bin:/bin' },
        extraFds,
        guard: true,
      });
      started = true;
      const running = proxy;
      const limits = watchLimitsFromQuotas(
        manifest.quotas,
        this.options.pollMs ?? DEFAULT_POLL_MS,
        HELPER_PROCESSES,
      );
      const cgroup = resources.cgroup;
      const sandbox = supervise({
        id,
        tier: 'gvisor',
        child,
        // The whole sandbox (group and cgroup) dies with this process, kill -9 included.
        guard: guardPipe(child, guardFd({ extraFds })),
        ...(cgroup === undefined ? {} : { meter: cgroup }),
        // The kernel's limit is memory_mb plus the sentry's own footprint: the workload's share is memory_mb.
        ...(resources.plan.limits.memoryBytes === undefined
          ? {}
          : { kernelMemoryBytes: manifest.quotas.memory_mb * MIB }),
        limits: {
          ...limits,
          memoryBytes: resources.memoryByKernel ? undefined : (limits.memoryBytes ?? 0) + overheadBytes,
          // Booting the sentry and starting a runtime under ptrace costs several times a native start.
          startupCpuMs: gvisorStartupCpuMs(manifest.quotas.startup_cpu_ms),
          // The cgroup counts the sentry's CPU too, so its boot is allowed on top of the lifetime budget.
          // Only the boot: the lifetime budget is a hard cap the manifest set, and a start that costs
          // more under ptrace spends it like any other CPU (a budget of 500 ms must not become 30 s).
          cpuTotalMs: manifest.quotas.cpu_ms_total + GVISOR_BOOT_CPU_MS,
        },
        // Polled only (no memory cgroup): the sentry's memory file is the workload's memory, all of it.
        ...(resources.memoryByKernel || child.pid === undefined
          ? {}
          : {
              workloadMemory: {
                read: memoryFileMeter(child.pid),
                limitBytes: manifest.quotas.memory_mb * MIB,
                killDetail: `its memory in the gVisor kernel (polled) passed the limit of ${manifest.quotas.memory_mb} MiB; raise with --quota-memory or quotas.memory_mb`,
              },
            }),
        egress: () => ({ requests: running?.audit.requests ?? 0, denied: running?.audit.denied ?? 0 }),
        cleanup,
      });
      return {
        sandbox: { ...sandbox, egressEvents: () => running?.audit.events ?? [] },
        ...(cgroup === undefined ? {} : { cgroup }),
      };
    } catch (error) {
      await cleanup();
      throw error;
    }
  }
}
