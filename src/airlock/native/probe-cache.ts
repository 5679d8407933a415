import { createHash } from 'node:crypto';
import {
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { release, version } from 'node:os';
import { join } from 'node:path';
import { launcherCacheDirectory, ownedAndClosed, trustworthy } from './launcher/build.js';

/** Bumped when the probe's meaning changes, so an old answer is never reused. */
const PROBE = 'hardened-probe-v1';
const FILE = 'hardened-probe';

/**
 * Host files whose content decides whether bwrap can make its namespaces: the boot (a reboot
 * measures again) and the sysctls that allow or forbid user namespaces (Debian's, the count
 * limit, Ubuntu's AppArmor restriction). One that is absent counts as absent.
 */
const HOST_FACTS = [
  '/proc/sys/kernel/random/boot_id',
  '/proc/sys/kernel/unprivileged_userns_clone',
  '/proc/sys/user/max_user_namespaces',
  '/proc/sys/kernel/apparmor_restrict_unprivileged_userns',
  '/proc/sys/kernel/apparmor_restrict_unprivileged_unconfined',
];

/** This process's own confinement: a seccomp filter, no_new_privs or fewer capabilities can forbid unshare. */
const OWN_STATUS = /^(Uid|Gid|CapEff|CapBnd|NoNewPrivs|Seccomp|Seccomp_filters):/;

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '-';
  }
}

/**
 * What the hardened tier's availability probe depends on: the probe itself (`args`, the user it
 * runs as), this bwrap binary by identity (real path, device, inode, size, mode and owner, mtime
 * and ctime: a replaced or chmod'ed binary changes it), the kernel and this boot, the user
 * namespace sysctls, and this process's user namespace and confinement. Undefined when the
 * binary or the boot cannot be identified: then the probe runs, as it always did.
 */
export function probeKey(bwrap: string, args: readonly string[], user: string): string | undefined {
  try {
    const path = realpathSync(bwrap);
    const stat = statSync(path);
    const boot = read(HOST_FACTS[0] ?? '');
    if (boot === '-') return undefined;
    const status = read('/proc/self/status')
      .split('\n')
      .filter((line) => OWN_STATUS.test(line));
    return createHash('sha256')
      .update(
        [
          PROBE,
          ...args,
          user,
          path,
          stat.dev,
          stat.ino,
          stat.size,
          stat.mode,
          stat.uid,
          stat.mtimeMs,
          stat.ctimeMs,
          release(),
          version(),
          ...HOST_FACTS.map(read),
          readlinkSync('/proc/self/ns/user'),
          ...status,
        ].join('\0'),
      )
      .digest('hex');
  } catch {
    return undefined;
  }
}

/**
 * The kept answer's file in `dir` (default: the launcher's cache directory) when that exists and is
 * ours and closed to others; no directory is made here (a start that builds the launcher makes it).
 */
function cacheFile(dir: string = launcherCacheDirectory()): string | undefined {
  return ownedAndClosed(dir, 'directory') ? join(dir, FILE) : undefined;
}

/**
 * Whether this probe passed before with the same key, by a file in the launcher's cache directory
 * (ours, closed to others: trustworthy). A file anyone else could have written, a symlink, or any
 * other content is no answer: the probe runs. Only a pass is kept: a host fixed since a failure
 * is probed again, never refused from memory.
 */
export function passedBefore(key: string, dir?: string): boolean {
  const file = cacheFile(dir);
  if (file === undefined) return false;
  if (!trustworthy(file)) return false;
  return read(file) === key;
}

/** Keeps a pass for the next OACP process; a cache that cannot be written only costs a probe next time. */
export function keepPass(key: string, dir?: string): void {
  const file = cacheFile(dir);
  if (file === undefined) return;
  const partial = `${file}.${process.pid}`;
  try {
    rmSync(partial, { force: true });
    writeFileSync(partial, `${key}\n`, { mode: 0o644, flag: 'wx' });
    // Atomic: a concurrent start reads the old key or the new one, never half of either.
    renameSync(partial, file);
  } catch {
    rmSync(partial, { force: true });
  }
}
