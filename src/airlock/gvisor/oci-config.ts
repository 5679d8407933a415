import type { Mount } from '../native/mount-plan.js';
import type { Rlimits } from '../native/rlimits.js';
import type { SystemEntry } from '../native/system-root.js';

/** The subset of the OCI runtime spec (1.0.2) OACP writes. */
export interface OciMount {
  readonly destination: string;
  readonly type: string;
  readonly source: string;
  readonly options?: readonly string[];
}

export interface OciConfig {
  readonly ociVersion: '1.0.2';
  readonly process: {
    readonly terminal: false;
    readonly user: { readonly uid: number; readonly gid: number };
    readonly args: readonly string[];
    readonly env: readonly string[];
    readonly cwd: string;
    readonly capabilities: Record<
      'bounding' | 'effective' | 'inheritable' | 'permitted' | 'ambient',
      string[]
    >;
    readonly rlimits: readonly { readonly type: string; readonly hard: number; readonly soft: number }[];
    readonly noNewPrivileges: true;
  };
  readonly root: { readonly path: string; readonly readonly: true };
  readonly hostname: string;
  readonly mounts: readonly OciMount[];
  readonly linux: { readonly namespaces: readonly { readonly type: string }[] };
}

export interface BundlePlan {
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly system: readonly SystemEntry[];
  readonly etc: readonly { readonly source: string; readonly target: string }[];
  readonly mounts: readonly Mount[];
  readonly proxySocket?: { readonly source: string; readonly target: string };
  readonly tmpBytes: number;
  /**
   * Size of /dev/shm (POSIX shared memory, semaphores): the workload's memory
   * quota. The sentry has no /dev/shm of its own (only a root-owned
   * directory, so every shm_open failed with EACCES); its tmpfs pages live in
   * the sentry's memory, charged to the sandbox's cgroup.
   */
  readonly shmBytes: number;
  /** Queued signals and message queues are the sentry's own counts, never the host uid's: not limited here. */
  readonly rlimits: Omit<Rlimits, 'sigpending' | 'msgqueueBytes'>;
  /** The workload's identity inside the sentry (and, through the gofer, on host files); default 0:0. */
  readonly user?: { readonly uid: number; readonly gid: number };
}

const bind = (source: string, destination: string, writable: boolean): OciMount => ({
  destination,
  type: 'bind',
  source,
  options: ['rbind', writable ? 'rw' : 'ro', 'nosuid', 'nodev'],
});

/**
 * The hardened policy as an OCI bundle for runsc: read-only root, no
 * capabilities, no_new_privs, rlimits, fresh pid/net/ipc/uts/mount
 * namespaces (the network one has only loopback), and the same bind mounts
 * as bubblewrap. Merged-/usr symlinks live in the rootfs directory itself.
 */
export function ociConfig(plan: BundlePlan): OciConfig {
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    {
      destination: '/tmp',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'nodev', `size=${plan.tmpBytes}`, 'mode=1777'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'nodev', 'noexec', `size=${plan.shmBytes}`, 'mode=1777'],
    },
  ];
  for (const entry of plan.system)
    if (entry.kind === 'bind') mounts.push(bind(entry.path, entry.path, false));
  for (const file of plan.etc) mounts.push(bind(file.source, file.target, false));
  if (plan.proxySocket !== undefined)
    mounts.push(bind(plan.proxySocket.source, plan.proxySocket.target, false));
  for (const mount of plan.mounts) mounts.push(bind(mount.source, mount.target, mount.writable));
  const limit = (type: string, value: number) => ({ type, hard: value, soft: value });
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: plan.user ?? { uid: 0, gid: 0 },
      args: plan.args,
      env: Object.entries(plan.env).map(([name, value]) => `${name}=${value}`),
      cwd: plan.cwd,
      capabilities: { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] },
      rlimits: [
        limit('RLIMIT_NOFILE', plan.rlimits.nofile),
        limit('RLIMIT_NPROC', plan.rlimits.nproc),
        limit('RLIMIT_FSIZE', plan.rlimits.fsizeBytes),
        limit('RLIMIT_CORE', 0),
      ],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'oacp-sandbox',
    mounts,
    linux: { namespaces: ['pid', 'network', 'ipc', 'uts', 'mount'].map((type) => ({ type })) },
  };
}
