import type { Rlimits } from '../rlimits.js';
import type { UserCounts } from '../user-counts.js';

/** The sandbox's own directory: the launcher, the workload filter, the egress proxy socket. */
export const SANDBOX_RUN_DIR = '/run/oacp';
/** Where the launcher and the workload filter appear inside a confined sandbox. */
export const SANDBOX_LAUNCHER = '/run/oacp/launch';
export const SANDBOX_WORKLOAD_FILTER = '/run/oacp/workload.bpf';
/**
 * Host directory `tmpfs` covers with a holder tmpfs (in the launcher's private mount namespace only), and the
 * paths of the capped instances in it: whatever the host keeps under it is hidden from bwrap, so OACP's own
 * per-sandbox files must never live there (see HardenedTier, workRoot).
 */
export const TMPFS_HOLDER = '/dev/shm';
export const CAPPED_TMPFS = { tmp: `${TMPFS_HOLDER}/tmp`, shm: `${TMPFS_HOLDER}/shm` } as const;

/** A grant descriptor the launcher replaces by an idmapped clone attached on `path` (files of uid:gid become `as`'s). */
export interface IdmapArg {
  readonly fd: number;
  readonly uid: number;
  readonly gid: number;
  readonly path: string;
}

export interface OuterLaunch {
  /** The descriptor (a pipe only OACP holds the other end of) whose end of file means OACP died. */
  readonly guard?: number;
  /**
   * The workload runs in a new PID namespace (and user namespace, when not
   * root) under a minimal init it cannot signal; see launcher/source.ts, --init.
   */
  readonly init?: boolean;
  readonly keep?: readonly number[];
  readonly stage?: readonly { fd: number; path: string }[];
  /** The workload's host identity, which idmapped grants map their owner to. */
  readonly as?: { readonly uid: number; readonly gid: number };
  readonly idmap?: readonly IdmapArg[];
  /** A devpts instance of at most this many terminals mounted on /dev/pts in the private mount namespace. */
  readonly ptys?: number;
  /**
   * Capped tmpfs instances (bytes each, and at most `inodes` files each) mounted under /dev/shm in the private
   * mount namespace for bwrap to bind on /tmp and /dev/shm (see CAPPED_TMPFS).
   */
  readonly tmpfs?: { readonly tmpBytes: number; readonly shmBytes: number; readonly inodes: number };
  /**
   * Not root: the inotify and fanotify counts the sandbox may hold of the invoker's, capped in the user
   * namespace the launcher makes for the private mounts (needs `ptys` or `tmpfs`; see user-counts.ts).
   */
  readonly userCounts?: UserCounts;
  /** cgroup.procs files joined before anything of the sandbox runs. */
  readonly cgroups?: readonly string[];
  /** Host identity dropped to (root only) right before the exec: groups, ids, capabilities, no_new_privs. */
  readonly user?: { readonly uid: number; readonly gid: number };
  /** A descriptor the guard keeps open until it has killed the sandbox: the workload id lease (workload-ids.ts). */
  readonly hold?: number;
  /** `user` is a leased dedicated id: first kill whatever still runs as it (an earlier lease's leftovers). */
  readonly reclaim?: boolean;
  /** The program is the workload: loader variables get their names back for its exec (loader-env.ts). */
  readonly restoreEnv?: boolean;
}

/**
 * Runs first, outside the sandbox: forks the orphan guard (`guard`), closes
 * every descriptor the OACP process inherited except `keep` (the seccomp
 * pipe, the grant descriptors), in the gVisor tier stages each grant
 * descriptor on a host path in a private mount namespace for runsc to bind,
 * replaces each `idmap` descriptor by an idmapped clone of its mount (see
 * docs/hardened-tier.md, "Identity"), mounts the hardened sandbox's capped
 * devpts instance (`ptys`) and tmpfs instances (`tmpfs`), joins the sandbox's cgroups and drops
 * to `user`: one exec for all of it.
 */
export function outerLaunchArgs(launcher: string, options: OuterLaunch): string[] {
  return [
    launcher,
    ...(options.guard === undefined ? [] : ['--guard', String(options.guard)]),
    ...(options.init === true ? ['--init'] : []),
    ...(options.keep ?? []).flatMap((fd) => ['--keep', String(fd)]),
    ...(options.as === undefined ? [] : ['--as', `${options.as.uid}:${options.as.gid}`]),
    ...(options.stage ?? []).flatMap((each) => ['--stage', `${each.fd}:${each.path}`]),
    ...(options.idmap ?? []).flatMap((each) => [
      '--idmap',
      `${each.fd}:${each.uid}:${each.gid}:${each.path}`,
    ]),
    ...(options.ptys === undefined ? [] : ['--ptys', String(options.ptys)]),
    ...(options.tmpfs === undefined
      ? []
      : ['--tmpfs', `${options.tmpfs.tmpBytes}:${options.tmpfs.shmBytes}:${options.tmpfs.inodes}`]),
    ...(options.userCounts === undefined
      ? []
      : [
          '--user-counts',
          [
            options.userCounts.inotifyInstances,
            options.userCounts.inotifyWatches,
            options.userCounts.fanotifyGroups,
            options.userCounts.fanotifyMarks,
          ].join(':'),
        ]),
    ...(options.cgroups ?? []).flatMap((file) => ['--cgroup', file]),
    ...(options.hold === undefined ? [] : ['--hold', String(options.hold)]),
    ...(options.user === undefined ? [] : ['--user', `${options.user.uid}:${options.user.gid}`]),
    ...(options.reclaim === true ? ['--reclaim'] : []),
    ...(options.restoreEnv === true ? ['--restore-env'] : []),
    '--',
  ];
}

/**
 * Runs inside the sandbox: sets the rlimits; closes descriptors above 2; with `filter` (the launch
 * that execs the workload), installs the workload filter and gives loader variables their names back.
 */
export function innerLaunchArgs(
  options: { readonly limits?: Rlimits; readonly filter?: boolean } = {},
): string[] {
  const { limits } = options;
  return [
    SANDBOX_LAUNCHER,
    ...(limits === undefined
      ? []
      : [
          '--limits',
          [limits.nofile, limits.nproc, limits.fsizeBytes, limits.sigpending, limits.msgqueueBytes].join(':'),
        ]),
    ...(options.filter === false ? [] : ['--filter', SANDBOX_WORKLOAD_FILTER, '--restore-env']),
    '--',
  ];
}
