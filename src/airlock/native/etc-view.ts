import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { OacpError } from '../../core/errors.js';
import type { NativeErrorCode } from './errors.js';
import { pruneEtcViews, stampView } from './etc-view-prune.js';
import { ownedAndClosed } from './launcher/build.js';
import type { SystemEntry } from './system-root.js';

/** One bind of the sandbox's /etc: the view first, then the directories bound on top of it. */
export interface EtcBind {
  readonly source: string;
  readonly target: string;
}

/** What identifies a host file's content without reading it: changed by any write, rename or chmod. */
interface Keyed {
  readonly path: string;
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

function keyOf(path: string): Keyed | undefined {
  try {
    const stat = statSync(path, { bigint: true });
    // Only world-readable regular files are copied: anything else stays a bind of its own (below).
    if (!stat.isFile() || (stat.mode & 0o004n) === 0n) return undefined;
    return {
      path,
      dev: stat.dev,
      ino: stat.ino,
      size: stat.size,
      mtimeNs: stat.mtimeNs,
      ctimeNs: stat.ctimeNs,
    };
  } catch {
    return undefined;
  }
}

/** The content of `file`, read from one descriptor that must still be the file that was keyed. */
function readKeyed(file: Keyed): Buffer {
  const fd = openSync(file.path, constants.O_RDONLY);
  try {
    const stat = fstatSync(fd, { bigint: true });
    const same =
      stat.dev === file.dev &&
      stat.ino === file.ino &&
      stat.size === file.size &&
      stat.mtimeNs === file.mtimeNs &&
      stat.ctimeNs === file.ctimeNs;
    if (!same) {
      throw new OacpError<NativeErrorCode>(
        'AIRLOCK_SPAWN_FAILED',
        `host file ${file.path} changed while the sandbox's /etc was being prepared; start it again`,
      );
    }
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The sandbox's /etc as one read-only directory in the launcher cache, bound
 * once instead of one bind per file: bwrap re-reads the mount table after
 * every bind, so the twenty-odd /etc binds were about a fifth of a start's
 * CPU (docs/hardened-tier.md, "Start-up cost"). The view holds copies of the
 * world-readable system files, the synthetic passwd/group/hosts and an empty
 * mount point per system directory (bound on top, as before). It is named by
 * the device, inode, size and timestamps of every copied file and by the
 * synthetic content, all checked on every start: any change on the host
 * gives a new view, so a sandbox never sees an older file than a bind would
 * have shown it at start. A system file that is not world-readable is never
 * copied; it stays a bind of its own. A view no start has bound for a day
 * is removed when a new one is built (etc-view-prune.ts).
 */
export function cachedEtcView(
  cacheDir: string,
  system: readonly SystemEntry[],
  synthetic: Readonly<Record<string, string>>,
): EtcBind[] {
  const directories: string[] = [];
  const copied: Keyed[] = [];
  const bound: string[] = [];
  for (const entry of system) {
    if (entry.kind !== 'bind' || dirname(entry.path) !== '/etc') continue;
    if (entry.directory) {
      directories.push(entry.path);
      continue;
    }
    const keyed = keyOf(entry.path);
    if (keyed === undefined) bound.push(entry.path);
    else copied.push(keyed);
  }
  const hash = createHash('sha256');
  for (const file of copied) {
    hash.update(
      `f\0${file.path}\0${file.dev}\0${file.ino}\0${file.size}\0${file.mtimeNs}\0${file.ctimeNs}\0`,
    );
  }
  for (const dir of directories) hash.update(`d\0${dir}\0`);
  for (const file of bound) hash.update(`b\0${file}\0`);
  for (const [name, content] of Object.entries(synthetic)) hash.update(`s\0${name}\0${content}\0`);
  const view = join(cacheDir, `etc-view-${hash.digest('hex').slice(0, 16)}`);
  if (!ownedAndClosed(view, 'directory') || !stampView(view)) {
    buildView(cacheDir, view, { copied, directories, bound }, synthetic);
    // Only when a new view appears (a host file changed, a new identity): what it may replace goes.
    pruneEtcViews(cacheDir, view);
  }
  return [
    { source: view, target: '/etc' },
    ...[...directories, ...bound].map((path) => ({ source: path, target: path })),
  ];
}

interface ViewParts {
  readonly copied: readonly Keyed[];
  /** Mount points: the system directories, and files bound rather than copied. */
  readonly directories: readonly string[];
  readonly bound: readonly string[];
}

function buildView(
  cacheDir: string,
  view: string,
  parts: ViewParts,
  synthetic: Readonly<Record<string, string>>,
): void {
  const work = mkdtempSync(join(cacheDir, '.etc-view-'));
  try {
    for (const file of parts.copied) {
      writeFileSync(join(work, basename(file.path)), readKeyed(file), { mode: 0o444 });
    }
    for (const [name, content] of Object.entries(synthetic)) {
      writeFileSync(join(work, name), content, { mode: 0o444 });
    }
    for (const dir of parts.directories) mkdirSync(join(work, basename(dir)), { mode: 0o755 });
    for (const file of parts.bound) writeFileSync(join(work, basename(file)), '', { mode: 0o444 });
    // bwrap runs as the sandbox user and must read it; nobody else may write it.
    chmodSync(work, 0o755);
    // Something at this name that is not ours and closed is never used: replaced. A trusted view
    // another start has just put there is left alone (it may be being bound right now).
    if (!ownedAndClosed(view, 'directory')) rmSync(view, { recursive: true, force: true });
    try {
      // Atomic: a concurrent start binds a complete view or builds its own.
      renameSync(work, view);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !ownedAndClosed(view, 'directory')) throw error;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
