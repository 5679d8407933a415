import { CAPPED_TMPFS, SANDBOX_LAUNCHER, SANDBOX_WORKLOAD_FILTER } from './launcher/args.js';
import type { Mount } from './mount-plan.js';

export interface BwrapPlan {
  /** From `systemRootArgs()`. */
  readonly system: readonly string[];
  readonly etc: readonly { readonly source: string; readonly target: string }[];
  readonly mounts: readonly Mount[];
  /** For each mount, the descriptor (in bwrap's table) bound in its place: what OACP opened and checked. */
  readonly mountFds: readonly number[];
  /** Host files shown read-only inside: the launcher program and the workload filter (see launcher/). */
  readonly launcher: { readonly program: string; readonly filter: string };
  /**
   * The launcher mounted a capped devpts instance on /dev/pts in its private mount namespace (`ptys`, see
   * SANDBOX_MAX_PTYS): bind it over bwrap's own, which has no cap. Otherwise bwrap's.
   */
  readonly cappedPtys?: boolean;
  /**
   * The launcher mounted tmpfs instances capped in size and files on CAPPED_TMPFS (`tmpfs`): bind them on
   * /tmp and /dev/shm, since bwrap's --tmpfs takes no inode cap. Otherwise bwrap's, of tmpBytes and shmBytes.
   */
  readonly cappedTmpfs?: boolean;
  readonly tmpBytes: number;
  /**
   * Size of /dev/shm: the memory quota when the memory cgroup enforces it (shm is charged there
   * anyway), else the /tmp quota, so shared memory is never unbounded.
   */
  readonly shmBytes: number;
  /** Host path of the egress proxy socket and where the sandbox sees it; absent: no way out. */
  readonly proxySocket?: { readonly source: string; readonly target: string };
  readonly cwd: string;
  /** The fd (in bwrap's table) the seccomp program is read from. */
  readonly seccompFd: number;
  /** The uid and gid the workload has inside (bwrap --uid/--gid): a leased host id shows as WORKLOAD_ID. */
  readonly insideId?: number;
}

/**
 * bwrap's command line for the hardened policy: every namespace new (network
 * has only `lo`), no way back into user namespaces, no capabilities, a new
 * session (no TIOCSTI into the host terminal), the seccomp filter, a
 * read-only system root, private /proc, /dev and /tmp, then the grants.
 */
export function bwrapArgs(plan: BwrapPlan): string[] {
  const args = [
    '--unshare-all',
    '--unshare-user',
    ...(plan.insideId === undefined ? [] : ['--uid', String(plan.insideId), '--gid', String(plan.insideId)]),
    '--disable-userns',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--hostname',
    'oacp-sandbox',
    '--seccomp',
    String(plan.seccompFd),
    ...plan.system,
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    // /dev/ptmx is bwrap's link to pts/ptmx: terminals come from the capped instance.
    ...(plan.cappedPtys === true ? ['--dev-bind', '/dev/pts', '/dev/pts'] : []),
    // bwrap's /dev is a tmpfs with no size: /dev/shm on it (and any file written in /dev) was
    // bounded only by the memory cgroup, and not at all with memory opted out.
    ...(plan.cappedTmpfs === true
      ? ['--dev-bind', CAPPED_TMPFS.shm, '/dev/shm']
      : ['--size', String(plan.shmBytes), '--perms', '1777', '--tmpfs', '/dev/shm']),
    '--remount-ro',
    '/dev',
    ...(plan.cappedTmpfs === true
      ? ['--bind', CAPPED_TMPFS.tmp, '/tmp']
      : ['--size', String(plan.tmpBytes), '--tmpfs', '/tmp']),
  ];
  for (const file of plan.etc) args.push('--ro-bind', file.source, file.target);
  if (plan.proxySocket !== undefined)
    args.push('--ro-bind', plan.proxySocket.source, plan.proxySocket.target);
  args.push('--ro-bind', plan.launcher.program, SANDBOX_LAUNCHER);
  args.push('--ro-bind', plan.launcher.filter, SANDBOX_WORKLOAD_FILTER);
  plan.mounts.forEach((mount, index) => {
    const fd = plan.mountFds[index];
    if (fd === undefined) throw new Error(`no descriptor for the grant ${mount.target}`);
    // bwrap binds the descriptor and checks the mount is that very inode, so no path is walked twice.
    args.push(mount.writable ? '--bind-fd' : '--ro-bind-fd', String(fd), mount.target);
  });
  // bwrap's root is a tmpfs; left writable it would be unmetered memory outside the /tmp cap.
  args.push('--remount-ro', '/', '--chdir', plan.cwd);
  return args;
}
