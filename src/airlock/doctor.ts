import { existsSync, readFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import {
  type CgroupHost,
  canEnableController,
  cgroup2MountOf,
  detectCgroupHost,
  FALLBACK,
  RESOURCE_CONTROLLERS,
  V1_TCP_LIMIT_FILE,
  v1ChargesSocketBuffers,
} from './cgroups/index.js';
import { IDENTITY_FALLBACK, isWorkloadId, WORKLOAD_ID, WORKLOAD_ID_COUNT } from './native/identity.js';
import {
  buildLauncher,
  DEFAULT_COMPILER,
  launcherBuild,
  launcherCacheDirectory,
  withScratch,
} from './native/launcher/build.js';
import { probeIdmap } from './native/launcher/idmap-probe.js';
import { MUSL_WRAPPER } from './native/launcher/musl.js';
import { type LeaseOptions, leaseWorkloadId } from './native/workload-ids.js';
import type { TierName } from './sandbox.js';
import { detectTee } from './tee/detect.js';
import type { TierLike, TierRegistry } from './tiers.js';

/** One line of `oacp doctor`: a tier and whether this host can run it. */
export interface DoctorTierRow {
  readonly tier: TierName;
  readonly available: boolean;
  /** What is in place when available, why not otherwise. */
  readonly detail: string;
  readonly remedy?: string;
}

/** A host fact the tiers depend on. */
export interface HostFact {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface DoctorReport {
  readonly tiers: readonly DoctorTierRow[];
  readonly host: readonly HostFact[];
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function userNamespaces(): HostFact {
  const max = read('/proc/sys/user/max_user_namespaces');
  const clone = read('/proc/sys/kernel/unprivileged_userns_clone');
  const ok = max !== undefined && Number(max) > 0 && clone !== '0';
  const detail =
    max === undefined
      ? 'kernel has no user namespaces'
      : `max_user_namespaces=${max}${clone === undefined ? '' : `, unprivileged_userns_clone=${clone}`}`;
  return { name: 'user namespaces', ok, detail };
}

function seccomp(): HostFact {
  const status = read('/proc/self/status') ?? '';
  const actions = read('/proc/sys/kernel/seccomp/actions_avail');
  const ok = /^Seccomp:/m.test(status) && actions?.includes('errno') === true;
  return {
    name: 'seccomp filters',
    ok,
    detail: ok ? `actions: ${actions}` : 'kernel lacks CONFIG_SECCOMP_FILTER',
  };
}

const OPT_OUT: Record<(typeof RESOURCE_CONTROLLERS)[number], keyof typeof FALLBACK> = {
  memory: 'memory',
  pids: 'pids',
  cpu: 'cpu',
  io: 'disk_io',
};

/**
 * One fact per resource: which cgroup controller (v1 or v2, where) the
 * hardened and gVisor tiers use, or why none, what stands in for it and the
 * opt-out without which those tiers refuse to start.
 */
export function cgroupFacts(
  host: CgroupHost = detectCgroupHost({ enable: canEnableController }),
): HostFact[] {
  return RESOURCE_CONTROLLERS.map((resource) => {
    const support = host[resource];
    const name = `cgroup ${resource}`;
    if (support.available)
      return { name, ok: true, detail: `cgroup v${support.version} at ${support.parents.join(', ')}` };
    const optOut = OPT_OUT[resource];
    return {
      name,
      ok: false,
      detail: `${support.reason}; sandboxes are refused unless --allow-unenforced ${optOut}, then: ${FALLBACK[optOut]}`,
    };
  });
}

/**
 * What joining a sandbox's cgroup costs here. v1: the launcher writes 0 to
 * each hierarchy's `tasks` (its one thread, no grace period). v2 has only
 * `cgroup.procs`, whose write waits for an RCU grace period unless cgroup2
 * is mounted with `favordynmods` (read from the superblock's options).
 */
export function cgroupJoinFact(
  host: CgroupHost = detectCgroupHost({ enable: canEnableController }),
  mountinfo?: string,
): HostFact {
  const name = 'cgroup join';
  const v2 = [
    ...new Set(
      RESOURCE_CONTROLLERS.flatMap((resource) => {
        const support = host[resource];
        return support.available && support.version === 2 ? support.parents : [];
      }),
    ),
  ];
  const v1 = RESOURCE_CONTROLLERS.some((resource) => {
    const support = host[resource];
    return support.available && support.version === 1;
  });
  const v1Detail = "cgroup v1: the launcher joins through each hierarchy's tasks file (no RCU grace period)";
  const [parent] = v2;
  if (parent === undefined)
    return {
      name,
      ok: true,
      detail: v1 ? v1Detail : 'no sandbox cgroup on this host (see the cgroup lines)',
    };
  const mount = cgroup2MountOf(parent, ...(mountinfo === undefined ? [] : [mountinfo]));
  const where = mount?.mountPoint ?? parent;
  const also = v1 ? `; ${v1Detail}` : '';
  if (mount?.superOptions.includes('favordynmods') === true)
    return {
      name,
      ok: true,
      detail: `cgroup2 at ${where} is mounted with favordynmods: writing a sandbox's pid to cgroup.procs takes no RCU grace period (forks and exits cost the kernel a little more)${also}`,
    };
  return {
    name,
    ok: false,
    detail: `cgroup2 at ${where} is mounted without favordynmods: every sandbox start waits for an RCU grace period when its pid is written to cgroup.procs (wall time, about 10 ms measured under load, no CPU); \`mount -o remount,favordynmods ${where}\` (Linux 6.0+) removes the wait at the cost of slightly slower forks and exits${also}`,
  };
}

/**
 * Whether socket buffers count against a sandbox's memory quota here. v2:
 * always, with memory.max. v1: only when the kernel has
 * memory.kmem.tcp.limit_in_bytes, which the quota then sets; without it a
 * sandbox's TCP and UDP buffers are bounded only by the host's tcp_mem, one
 * count for every network namespace. Booted with cgroup.memory=nosocket,
 * neither version charges them. gVisor's network stack lives in the
 * sentry's memory, which the quota charges either way.
 */
export function socketBufferFact(
  host: CgroupHost = detectCgroupHost({ enable: canEnableController }),
  exists?: (path: string) => boolean,
  cmdline = read('/proc/cmdline') ?? '',
): HostFact {
  const name = 'socket buffers';
  const memory = host.memory;
  const off = /(?:^|\s)cgroup\.memory=\S*\bnosocket\b/.test(cmdline);
  if (!memory.available)
    return {
      name,
      ok: false,
      detail: `not charged to a sandbox's memory quota: no memory controller (${memory.reason}); gVisor's network stack is in the sentry, unbounded as well`,
    };
  if (off)
    return {
      name,
      ok: false,
      detail: `not charged to a hardened sandbox's memory quota: the kernel was booted with cgroup.memory=nosocket, so a sandbox's socket buffers are bounded only by the host's tcp_mem, shared by every network namespace; --tier gvisor keeps them in the sentry's charged memory, or boot without nosocket`,
    };
  const [parent = ''] = memory.parents;
  if (memory.version === 2)
    return {
      name,
      ok: true,
      detail: `charged to a sandbox's memory quota (cgroup v2 counts them in memory.current, bounded by memory.max)`,
    };
  if (v1ChargesSocketBuffers(parent, exists))
    return {
      name,
      ok: true,
      detail: `charged to a sandbox's memory quota (cgroup v1: the quota also sets ${V1_TCP_LIMIT_FILE}, present in ${parent})`,
    };
  return {
    name,
    ok: false,
    detail: `not charged to a hardened sandbox's memory quota: this kernel has no ${V1_TCP_LIMIT_FILE} in ${parent} (cgroup v1), so a sandbox's TCP and UDP buffers are bounded only by the host's tcp_mem, shared by every network namespace; --tier gvisor keeps them in the sentry's charged memory, or use a cgroup v2 host`,
  };
}

/** Files that would name a dedicated workload id if something on this host already used it. */
const ID_REGISTRIES = ['/etc/passwd', '/etc/group', '/etc/subuid', '/etc/subgid'];

/**
 * Whether a line of /etc/passwd or /etc/group names an id of the workload range
 * (WORKLOAD_ID..WORKLOAD_ID+WORKLOAD_ID_COUNT), or a line of /etc/sub[ug]id
 * (name:first:count) delegates a range overlapping it.
 */
export function claimsWorkloadIds(file: string, text: string): boolean {
  const numeric = (field: string | undefined): number | undefined =>
    field !== undefined && /^\d+$/.test(field) ? Number(field) : undefined;
  return text.split('\n').some((line) => {
    const fields = line.split(':');
    if (file.endsWith('/subuid') || file.endsWith('/subgid')) {
      const [first, count] = [numeric(fields[1]), numeric(fields[2])];
      return (
        first !== undefined &&
        count !== undefined &&
        count > 0 &&
        first <= WORKLOAD_ID + WORKLOAD_ID_COUNT &&
        first + count - 1 >= WORKLOAD_ID
      );
    }
    return fields.some((field) => {
      const id = numeric(field);
      return id !== undefined && isWorkloadId(id);
    });
  });
}

/**
 * Which identity the confined tiers give a workload: as root, the dedicated
 * uid with idmapped grants (probed on the temporary directory's filesystem),
 * or why not and the opt-out; not root, the invoking user.
 */
export function identityFact(workRoot = tmpdir(), leases: LeaseOptions = {}): HostFact {
  const name = 'workload identity';
  if (process.getuid?.() !== 0)
    return { name, ok: true, detail: 'not root: sandboxes run as the invoking user, unprivileged' };
  const claimed = ID_REGISTRIES.filter((file) => claimsWorkloadIds(file, read(file) ?? ''));
  if (claimed.length > 0)
    return {
      name,
      ok: false,
      detail: `an id of the dedicated workload range ${WORKLOAD_ID}-${WORKLOAD_ID + WORKLOAD_ID_COUNT} appears in ${claimed.join(', ')}: give that account (or subordinate id range) other ids`,
    };
  // The lease directory's checks (root's path, closed lease files): a start would refuse what they refuse.
  try {
    leaseWorkloadId(leases).release();
  } catch (error) {
    return { name, ok: false, detail: error instanceof Error ? error.message : String(error) };
  }
  let probe: { ok: boolean; detail: string };
  try {
    probe = withScratch((scratch) =>
      probeIdmap(buildLauncher(DEFAULT_COMPILER, process.env, MUSL_WRAPPER, scratch), workRoot),
    );
  } catch (error) {
    probe = { ok: false, detail: error instanceof Error ? error.message : String(error) };
  }
  if (probe.ok) return { name, ok: true, detail: probe.detail };
  return {
    name,
    ok: false,
    detail: `${probe.detail}; a root-owned private grant is refused unless --allow-unenforced identity, then: ${IDENTITY_FALLBACK}`,
  };
}

function ptraceScope(): HostFact {
  const scope = read('/proc/sys/kernel/yama/ptrace_scope');
  return {
    name: 'ptrace (gVisor platform)',
    ok: scope === undefined || Number(scope) <= 1,
    detail: scope === undefined ? 'no Yama restrictions' : `kernel.yama.ptrace_scope=${scope}`,
  };
}

/** Landlock's abstract-socket scope (ABI 6) came with Linux 6.12. */
function landlockScopes(kernel: string): boolean {
  const [major = 0, minor = 0] = kernel.split('.').map((part) => Number.parseInt(part, 10));
  return major > 6 || (major === 6 && minor >= 12);
}

/** What `--allow-unix-sockets` opens in the hardened tier, said before anyone uses it. */
export function unixSocketFact(kernel = release()): HostFact {
  const abstract = landlockScopes(kernel)
    ? "its own network namespace and Landlock's abstract-socket scope"
    : `its own network namespace (kernel ${kernel} predates Landlock's abstract-socket scope)`;
  return {
    name: 'Unix sockets (hardened)',
    ok: true,
    detail: `socket(AF_UNIX) is refused (EPERM) unless --allow-unix-sockets (manifest: capabilities.unix_sockets: true); with it, host pathname sockets inside granted directories (:ro included) become connectable, host abstract sockets stay unreachable (${abstract}); --tier gvisor keeps every host socket unreachable`,
  };
}

function tool(name: string, path: string, neededFor: string): HostFact {
  const ok = existsSync(path);
  return { name, ok, detail: ok ? path : `${path} missing (${neededFor})` };
}

function tee(): HostFact {
  const found = detectTee();
  return {
    name: 'TEE hardware',
    ok: found.length > 0,
    detail:
      found.length === 0 ? 'none (no SGX, SEV-SNP or TDX)' : found.map((entry) => entry.kind).join(', '),
  };
}

/**
 * The C compiler, and what it built the launcher (oacp-launch) against: musl
 * where musl-tools is installed, whose start-up skips glibc's cpuid probes
 * (each traps on a VM) on the launcher's two execs a start.
 */
export function compilerFact(
  build: () => ReturnType<typeof launcherBuild> = () =>
    withScratch((scratch) => launcherBuild(DEFAULT_COMPILER, process.env, MUSL_WRAPPER, scratch)),
): HostFact {
  const row = tool(
    'C compiler',
    DEFAULT_COMPILER,
    'builds the launcher (oacp-launch) once: orphan guard of every process tier, confinement of hardened and gvisor',
  );
  if (!row.ok) return row;
  try {
    const { libc, linkage } = build();
    const why =
      libc === 'musl'
        ? ''
        : existsSync(MUSL_WRAPPER)
          ? ` (its musl build failed: the .no-musl file in ${launcherCacheDirectory()} says why; remove it to retry)`
          : ' (apt-get install musl-tools: a launcher linked against musl starts faster)';
    return { ...row, detail: `${row.detail}; launcher oacp-launch: ${linkage}, ${libc}${why}` };
  } catch (error) {
    return { ...row, ok: false, detail: error instanceof Error ? error.message : String(error) };
  }
}

/** The host facts alone, for callers without a registry. */
export function hostFacts(): HostFact[] {
  const cgroups = detectCgroupHost({ enable: canEnableController });
  return [
    userNamespaces(),
    seccomp(),
    ...cgroupFacts(cgroups),
    cgroupJoinFact(cgroups),
    socketBufferFact(cgroups),
    identityFact(),
    ptraceScope(),
    unixSocketFact(),
    tool('bubblewrap', '/usr/bin/bwrap', 'hardened tier'),
    tool('runsc', '/usr/bin/runsc', 'gvisor tier'),
    tool('socat', '/usr/bin/socat', 'network egress from hardened and gvisor sandboxes'),
    compilerFact(),
    tee(),
  ];
}

/** Data for `oacp doctor`: every registered tier's availability plus the host facts behind them. */
export async function doctorReport<T extends TierLike>(registry: TierRegistry<T>): Promise<DoctorReport> {
  const rows = await registry.availabilities();
  return {
    tiers: rows.map(({ tier, availability }) =>
      availability.available
        ? { tier, available: true, detail: availability.detail }
        : { tier, available: false, detail: availability.reason, remedy: availability.remedy },
    ),
    host: hostFacts(),
  };
}
