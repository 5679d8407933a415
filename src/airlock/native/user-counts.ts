import { readFileSync } from 'node:fs';

/**
 * Kernel objects counted per host uid whatever user namespace holds them
 * (the kernel's ucounts, limited by the `fs.inotify.max_user_*` and
 * `fs.fanotify.max_user_*` sysctls, /proc/sys/user/max_* in each
 * namespace). A regular user's sandbox runs as that user, so without a cap
 * one sandbox took all 128 inotify instances and the user's editors, build
 * watchers and `tail -f` got EMFILE. The launcher caps them in the user
 * namespace it makes for the sandbox's private mounts, which the kernel
 * checks on the way up to the host's count.
 */
export interface UserCounts {
  readonly inotifyInstances: number;
  readonly inotifyWatches: number;
  readonly fanotifyGroups: number;
  readonly fanotifyMarks: number;
}

/** The share of each host count one sandbox may hold. */
export const SANDBOX_SHARE = 8;

const SYSCTL: Readonly<Record<keyof UserCounts, string>> = {
  inotifyInstances: 'max_inotify_instances',
  inotifyWatches: 'max_inotify_watches',
  fanotifyGroups: 'max_fanotify_groups',
  fanotifyMarks: 'max_fanotify_marks',
};

/** The kernel's defaults, for a count this host does not show (a kernel without fanotify: nothing to hold). */
const FALLBACK: Readonly<Record<keyof UserCounts, number>> = {
  inotifyInstances: 128,
  inotifyWatches: 8192,
  fanotifyGroups: 128,
  fanotifyMarks: 8192,
};

/** An eighth of each count the invoker's namespace allows its uid, at least one. */
export function sandboxUserCounts(
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): UserCounts {
  const share = (name: keyof UserCounts): number => {
    let host = FALLBACK[name];
    try {
      const value = Number.parseInt(read(`/proc/sys/user/${SYSCTL[name]}`).trim(), 10);
      if (Number.isSafeInteger(value) && value > 0) host = value;
    } catch {
      // Unreadable: the kernel's default, which a host rarely lowers.
    }
    return Math.max(1, Math.floor(host / SANDBOX_SHARE));
  };
  return {
    inotifyInstances: share('inotifyInstances'),
    inotifyWatches: share('inotifyWatches'),
    fanotifyGroups: share('fanotifyGroups'),
    fanotifyMarks: share('fanotifyMarks'),
  };
}
