import { randomInt } from 'node:crypto';
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  realpathSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { OacpError } from '../../core/errors.js';
import { tryExclusiveLock } from '../../core/flock.js';
import type { NativeErrorCode } from './errors.js';
import { WORKLOAD_ID, WORKLOAD_ID_COUNT } from './identity.js';
import type { SandboxUser } from './sandbox-user.js';

/** Root's runtime directory of the leases: a tmpfs, so a reboot (which ends every sandbox) empties it. */
export const WORKLOAD_IDS_DIR = '/run/oacp/ids';

/** One dedicated workload id, held while `fd` (an exclusive flock) is open anywhere. */
export interface WorkloadLease {
  readonly user: SandboxUser;
  /** The locked descriptor: the launcher's guard keeps a copy (--hold) until it has killed the sandbox. */
  readonly fd: number;
  /** Closes this process's copy; the id is free once the guard's copy is gone too. */
  release(): void;
}

export interface LeaseOptions {
  readonly dir?: string;
  readonly count?: number;
  /** The slot the search starts at (then upwards, wrapping). Default: random below SPREAD. */
  readonly start?: number;
}

/**
 * Starts are spread over the first SPREAD slots: a search from slot 0 tried
 * every held slot first (an open and a flock each, 1.6 ms with 100 sandboxes
 * running, 16 ms with 1000; bench of the hardened start overhead: ~8 ms), and
 * a freed id came back at the very next start. At most SPREAD lease files plus
 * the number of sandboxes ever running at once exist (empty files on tmpfs).
 */
const SPREAD = 4096;

function refuse(message: string): OacpError<NativeErrorCode> {
  return new OacpError<NativeErrorCode>('AIRLOCK_TIER_UNAVAILABLE', message);
}

/**
 * Whoever can write into an ancestor can rename the lease directory away and
 * put one of its own there after the check: it could then unlink a held lease
 * file so a second sandbox locks a new one, and two sandboxes share an id.
 * So every ancestor of the real path is root's and writable only by root, or
 * sticky (like /tmp: nobody else can rename root's entries there).
 */
/** S_ISVTX: node:fs constants do not carry it. */
const STICKY = 0o1000;

function checkAncestors(real: string, dir: string): void {
  for (let path = dirname(real); ; path = dirname(path)) {
    const stat = lstatSync(path);
    if (stat.uid !== 0 || ((stat.mode & 0o022) !== 0 && (stat.mode & STICKY) === 0))
      throw refuse(
        `${path} (on the path of ${dir}, the workload id leases) must be owned by root and writable only by it: another user could swap the leases for its own and share a workload id between sandboxes; fix it with chown root ${path} && chmod go-w ${path}`,
      );
    if (path === dirname(path)) return;
  }
}

/** The directory, made if missing; only root's and closed to others, or refused (deny by default). Returns its real path. */
function leaseDirectory(dir: string): string {
  try {
    // Missing parents (no /run in a container) as 0755, as /run is usually: 0700 would close them to every other program.
    mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
    if (!existsSync(dir)) mkdirSync(dir, { mode: 0o700 });
    // The parent's real path; the directory itself must not be a symlink (lstat below).
    const real = join(realpathSync(dirname(dir)), basename(dir));
    const stat = lstatSync(real);
    if (!stat.isDirectory() || stat.uid !== 0 || (stat.mode & 0o022) !== 0)
      throw refuse(
        `${dir} must be a directory owned by root and writable only by it (it holds the workload id leases): fix it with chown root ${dir} && chmod 700 ${dir}`,
      );
    checkAncestors(real, dir);
    return real;
  } catch (error) {
    if (error instanceof OacpError) throw error;
    throw refuse(
      `cannot use ${dir} for the workload id leases (${(error as NodeJS.ErrnoException).code ?? 'error'}): hardened sandboxes as root need it on a root-writable /run`,
    );
  }
}

/** Takes slot's lock file without waiting, or says another holder has it ('held') or that it cannot be made ('no-space'). */
function tryLease(dir: string, slot: number): number | 'held' | 'no-space' {
  const path = join(dir, String(slot));
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (error) {
    // A full /run (a 1777 /run/lock on the same tmpfs lets any user fill it): the slots whose files exist still serve.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return 'no-space';
    const fix =
      code === 'EROFS'
        ? `: as root, each hardened sandbox leases its own host id there, so ${dir} must be on a writable file system (mount a tmpfs on /run, as every booted Linux has)`
        : '';
    throw refuse(`cannot open the workload id lease ${path} (${code ?? 'error'})${fix}`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw refuse(`the workload id lease ${path} is not a regular file: remove it`);
    // flock needs only a read descriptor: a lease file others can open is one they can hold.
    if (stat.uid !== 0 || (stat.mode & 0o077) !== 0)
      throw refuse(
        `the workload id lease ${path} must be owned by root and closed to others (anyone who can open it can hold its id): fix it with chown root ${path} && chmod 600 ${path}`,
      );
    if (tryExclusiveLock(fd)) return fd;
  } catch (error) {
    closeSync(fd);
    if (error instanceof OacpError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw refuse(`cannot lock the workload id lease ${path} (${code ?? 'error'})`);
  }
  // Another sandbox holds this id.
  closeSync(fd);
  return 'held';
}

/**
 * Leases a free dedicated id, the first from `start` (root only): slot N is WORKLOAD_ID + 1 + N,
 * held by an exclusive flock on <dir>/N. Safe across concurrent oacp
 * processes (flock is per open file, so also between sandboxes of one
 * process); a holder that dies, kill -9 included, frees its slots.
 */
export function leaseWorkloadId(options: LeaseOptions = {}): WorkloadLease {
  const dir = options.dir ?? WORKLOAD_IDS_DIR;
  const count = options.count ?? WORKLOAD_ID_COUNT;
  const real = leaseDirectory(dir);
  // A slot outside 0..count-1 or a count past the range would lease 2030000000 itself or an id outside it.
  if (!Number.isInteger(count) || count < 1 || count > WORKLOAD_ID_COUNT)
    throw refuse(`workloadIds.count must be an integer from 1 to ${WORKLOAD_ID_COUNT}, got ${count}`);
  const start = options.start ?? randomInt(Math.min(count, SPREAD));
  if (!Number.isInteger(start) || start < 0 || start >= count)
    throw refuse(`workloadIds.start must be an integer from 0 to ${count - 1}, got ${start}`);
  let noSpace = false;
  for (let tried = 0; tried < count; tried++) {
    const slot = (start + tried) % count;
    const fd = tryLease(real, slot);
    noSpace ||= fd === 'no-space';
    if (typeof fd !== 'number') continue;
    const id = WORKLOAD_ID + 1 + slot;
    let open = true;
    return {
      user: { uid: id, gid: id },
      fd,
      release: () => {
        if (open) closeSync(fd);
        open = false;
      },
    };
  }
  if (noSpace)
    throw refuse(
      `no workload id lease is free and ${dir} has no space for a new one (ENOSPC): free space or inodes on its filesystem (/run)`,
    );
  throw refuse(
    `all ${count} dedicated workload ids are in use (one per running hardened sandbox): wait for sandboxes to end`,
  );
}
