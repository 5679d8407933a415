import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { OacpError } from '../core/errors.js';
import { tryExclusiveLock } from '../core/flock.js';
import type { McpErrorCode } from './errors.js';

/**
 * Files a running bridge keeps in its home (its tokens, what its `--http` clients must send),
 * each named `<pid>-<128 random bits>.<kind>` and held by an exclusive flock for the bridge's
 * life. The lock, not the pid, says whether the writer lives: a pid may be reused, or be another
 * PID namespace's, while the kernel drops a lock only when its holder is gone (kill -9 included).
 * So a file whose lock can be taken belongs to a dead bridge, and every start prunes those.
 *
 * Race-free: a file takes its final name only once locked (written under a `.partial` name,
 * locked, then renamed), so no pruner ever sees a live file unlocked; a pruner deletes a name only
 * while it holds that file's lock and the name still is that file.
 */
export interface HeldFile {
  readonly path: string;
  /** Deletes the file and drops the lock. */
  remove(): void;
}

const NAME = /^(\d+)-[0-9a-f]{32}\.([a-z]+)$/;
const PARTIAL = 'partial';

/** The directory, made if missing; a real directory of this user closed to others, or refused. */
export function privateDirectory(dir: string, holds: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o077) !== 0) {
    throw new OacpError<McpErrorCode>(
      'MCP_CONFIG',
      `${dir} must be a directory of this user closed to others (0700) to hold ${holds}: remove it and start again`,
    );
  }
}

/**
 * Writes `text` to `<dir>/<pid>-<random>.<kind>` (0600, created exclusively), locked until
 * `remove` or this process's end. Files of dead bridges in `dir` are pruned first.
 */
export function writeHeldFile(
  dir: string,
  kind: string,
  text: string,
  holds: string,
  pid = process.pid,
): HeldFile {
  privateDirectory(dir, holds);
  pruneReleased(dir);
  for (let attempt = 0; ; attempt += 1) {
    const stem = join(dir, `${pid}-${randomBytes(16).toString('hex')}`);
    const partial = `${stem}.${PARTIAL}`;
    const fd = openSync(
      partial,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      // Not lockable, or renamed away below (ENOENT): a pruner took the partial file in the
      // instant before it was locked. Write another.
      if (!tryExclusiveLock(fd)) throw Object.assign(new Error(`${partial} was taken`), { code: 'ENOENT' });
      const bytes = Buffer.from(text, 'utf8');
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
      const path = `${stem}.${kind}`;
      renameSync(partial, path);
      return { path, remove: () => release(fd, path) };
    } catch (error) {
      closeSync(fd);
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 3) continue;
      unlinkQuietly(partial);
      throw error;
    }
  }
}

function release(fd: number, path: string): void {
  unlinkQuietly(path);
  try {
    closeSync(fd);
  } catch {
    // Closed already: remove was called twice.
  }
}

/** What `dir` holds of one kind: the files of live bridges, and those left by dead ones. */
export interface HeldFiles {
  readonly live: { readonly path: string; readonly pid: number }[];
  readonly stale: string[];
}

/** Judges each file of `kind` in `dir` by its lock, changing nothing (for `oacp doctor`). */
export function heldFiles(dir: string, kind: string): HeldFiles {
  const found: HeldFiles = { live: [], stale: [] };
  for (const name of namesIn(dir)) {
    const match = NAME.exec(name);
    if (match?.[2] !== kind) continue;
    const path = join(dir, name);
    const held = withUnheld(path, () => undefined);
    if (held === 'held') found.live.push({ path, pid: Number(match[1]) });
    else if (held === 'released') found.stale.push(path);
  }
  return found;
}

/** Deletes every file in `dir` whose writer is gone (its lock free); returns the paths deleted. */
export function pruneReleased(dir: string): string[] {
  const pruned: string[] = [];
  for (const name of namesIn(dir)) {
    if (!NAME.test(name)) continue;
    const path = join(dir, name);
    if (withUnheld(path, (fd) => unlinkIfStill(path, fd)) === 'released') pruned.push(path);
  }
  return pruned;
}

/**
 * Opens `path` (never through a symlink), and runs `then` while holding its lock if nobody else
 * holds it. 'gone' when the name vanished or is not a regular file.
 */
function withUnheld(path: string, then: (fd: number) => void): 'held' | 'released' | 'gone' {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return 'gone';
  }
  try {
    if (!fstatSync(fd).isFile()) return 'gone';
    if (!tryExclusiveLock(fd)) return 'held';
    then(fd);
    return 'released';
  } finally {
    closeSync(fd);
  }
}

/** Unlinks `path` only if the name still is the file `fd` locked (never a file renamed there since). */
function unlinkIfStill(path: string, fd: number): void {
  const held = fstatSync(fd);
  try {
    const now = lstatSync(path);
    if (now.ino === held.ino && now.dev === held.dev) unlinkSync(path);
  } catch {
    // Gone already.
  }
}

function namesIn(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already.
  }
}
