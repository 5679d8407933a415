import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetworkPolicy } from '../../capability/network-policy.js';
import { OacpError } from '../../core/errors.js';
import type { EgressEvent } from '../egress/audit.js';
import { EgressProxy } from '../egress/proxy.js';
import type { Resolver } from '../egress/resolver.js';
import { proxyRules } from '../egress/rules.js';
import type { Availability, ProcessSandbox, ProcessSpec, ProcessTier } from '../sandbox.js';
import { probe } from './availability-probe.js';
import { bwrapArgs } from './bwrap-args.js';
import {
  type CgroupSupport,
  cgroupEnterArgs,
  createSandboxCgroup,
  detectCgroupV2,
  type SandboxCgroup,
} from './cgroups.js';
import { forwarderArgs, proxyEnvironment, SANDBOX_PROXY_SOCKET } from './egress-forwarder.js';
import { scrubEnvironment } from './env.js';
import type { NativeErrorCode } from './errors.js';
import { resolveExecutable } from './executable.js';
import { DEFAULT_POLL_MS, watchLimitsFromQuotas } from './limits.js';
import { type Mount, planMounts } from './mount-plan.js';
import { prlimitArgs, rlimitsFromQuotas } from './rlimits.js';
import { writeSandboxEtc } from './sandbox-etc.js';
import { encodeProgram } from './seccomp/bpf.js';
import { buildSeccompFilter } from './seccomp/filter.js';
import { spawnWorkload } from './spawn.js';
import { supervise } from './supervisor.js';
import { systemRootArgs, underSystemDirs } from './system-root.js';

export interface HardenedTierOptions {
  readonly bwrapPath?: string;
  readonly socatPath?: string;
  readonly pollMs?: number;
  /** Resolver for the egress proxy (tests inject one to simulate DNS rebinding). */
  readonly resolver?: Resolver;
  /** Every egress decision of every sandbox this tier starts, for receipts. */
  readonly onEgressEvent?: (sandboxId: string, event: EgressEvent) => void;
  /** Where per-sandbox host directories (proxy socket, synthetic /etc) are made. */
  readonly workRoot?: string;
  /** Overrides cgroup v2 detection (tests, or hosts where it must stay off). */
  readonly cgroups?: CgroupSupport;
}

/** A hardened or gVisor sandbox: a ProcessSandbox plus the decisions its egress proxy made. */
export interface NativeSandbox extends ProcessSandbox {
  egressEvents(): readonly EgressEvent[];
}

/** bwrap, the sandbox's pid 1 inside, and the egress forwarder. */
const HELPER_PROCESSES = 3;

/** Directories a grant may never bind: the sandbox gets its own. */
const NEVER_BOUND = ['/proc', '/sys', '/dev'];

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

  constructor(private readonly options: HardenedTierOptions = {}) {
    this.bwrap = options.bwrapPath ?? '/usr/bin/bwrap';
    this.socat = options.socatPath ?? '/usr/bin/socat';
  }

  availability(): Promise<Availability> {
    this.availabilityCache ??= this.detect();
    return this.availabilityCache;
  }

  private async detect(): Promise<Availability> {
    if (!existsSync(this.bwrap)) {
      return {
        available: false,
        reason: `bubblewrap not found at ${this.bwrap}`,
        remedy: 'apt-get install bubblewrap',
      };
    }
    if (!existsSync('/usr/bin/prlimit')) {
      return {
        available: false,
        reason: 'prlimit not found at /usr/bin/prlimit',
        remedy: 'apt-get install util-linux',
      };
    }
    const check = await probe(this.bwrap, [
      '--unshare-all',
      '--unshare-user',
      '--disable-userns',
      '--die-with-parent',
      '--ro-bind',
      '/',
      '/',
      'true',
    ]);
    if (!check.ok) {
      return {
        available: false,
        reason: `bubblewrap cannot create namespaces here: ${check.output}`,
        remedy:
          'enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) or run where bwrap works',
      };
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
    const exe = resolveExecutable(spec.command, spec.cwd);
    const implicit = [...(spec.implicitReadPaths ?? [])];
    if (!underSystemDirs(exe.real)) implicit.push(exe.path, exe.real);
    const mounts = planMounts(manifest.capabilities, implicit);
    refuseHostSystemMounts(mounts);
    const cwd = spec.cwd ?? '/tmp';
    if (spec.cwd !== undefined && !mounts.some((mount) => isWithin(spec.cwd ?? '', mount.target))) {
      throw new OacpError<NativeErrorCode>(
        'AIRLOCK_BAD_SPEC',
        `working directory ${spec.cwd} is not a granted path`,
      );
    }
    const wantsEgress = manifest.capabilities.network.allowlist.length > 0;
    if (wantsEgress && !existsSync(this.socat)) {
      throw new OacpError<NativeErrorCode>(
        'AIRLOCK_TIER_UNAVAILABLE',
        `hardened tier cannot give this sandbox network access: socat not found at ${this.socat} (apt-get install socat)`,
      );
    }

    const dir = mkdtempSync(join(this.options.workRoot ?? tmpdir(), 'oacp-hardened-'));
    let proxy: EgressProxy | undefined;
    let cgroup: SandboxCgroup | undefined;
    const cleanup = async (): Promise<void> => {
      await proxy?.close();
      cgroup?.remove();
      rmSync(dir, { recursive: true, force: true });
    };
    try {
      const uid = process.getuid?.() ?? 0;
      const gid = process.getgid?.() ?? 0;
      const etc = writeSandboxEtc(dir, uid, gid);
      if (wantsEgress) {
        proxy = new EgressProxy({
          rules: proxyRules(NetworkPolicy.from(manifest.capabilities.network)),
          quotas: manifest.quotas,
          ...(this.options.resolver === undefined ? {} : { resolver: this.options.resolver }),
          onEvent: (event) => this.options.onEgressEvent?.(id, event),
        });
        await proxy.listen(join(dir, 'egress.sock'));
      }
      const cgroupSupport = this.options.cgroups ?? detectCgroupV2();
      if (cgroupSupport.delegated) {
        cgroup = createSandboxCgroup(cgroupSupport.path, id, manifest.quotas, HELPER_PROCESSES);
      }
      const env = {
        HOME: '/tmp',
        TMPDIR: '/tmp',
        ...scrubEnvironment(spec.env, manifest.capabilities.env),
        ...(wantsEgress ? proxyEnvironment() : {}),
      };
      const sandboxArgs = bwrapArgs({
        system: systemRootArgs(),
        etc,
        mounts,
        tmpBytes: manifest.quotas.tmp_mb * 1024 * 1024,
        ...(wantsEgress
          ? { proxySocket: { source: join(dir, 'egress.sock'), target: SANDBOX_PROXY_SOCKET } }
          : {}),
        cwd,
        seccompFd: 3,
      });
      const inner = [
        ...prlimitArgs(rlimitsFromQuotas(manifest.quotas, { extraProcesses: wantsEgress ? 1 : 0 })),
        ...(wantsEgress ? forwarderArgs() : []),
        exe.path,
        ...spec.args,
      ];
      const outer = [
        ...(cgroup === undefined ? [] : cgroupEnterArgs(cgroup)),
        this.bwrap,
        ...sandboxArgs,
        '--',
        ...inner,
      ];
      const [command = this.bwrap, ...args] = outer;
      const child = await spawnWorkload({ command, args, env, fd3: encodeProgram(buildSeccompFilter()) });
      const running = proxy;
      const sandbox = supervise({
        id,
        tier: 'hardened',
        child,
        limits: watchLimitsFromQuotas(
          manifest.quotas,
          this.options.pollMs ?? DEFAULT_POLL_MS,
          HELPER_PROCESSES,
        ),
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

function isWithin(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root}/`);
}

function refuseHostSystemMounts(mounts: readonly Mount[]): void {
  for (const mount of mounts) {
    const bad = NEVER_BOUND.find((dir) => isWithin(mount.target, dir) || isWithin(mount.source, dir));
    if (bad !== undefined) {
      throw new OacpError<NativeErrorCode>(
        'AIRLOCK_BAD_SPEC',
        `the hardened tier never binds host ${bad} (asked for ${mount.target}); the sandbox has its own`,
      );
    }
  }
}
