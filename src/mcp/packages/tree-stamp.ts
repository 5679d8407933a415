import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * A fingerprint of a tree's metadata: every entry's path and type, every
 * directory's and file's inode, mode, size, and modification and change times
 * in nanoseconds. Any write to a file moves its ctime, which no unprivileged
 * process can set back, so a tree whose stamp equals the one taken right
 * after it was last fully digested still has that digest (git's index makes
 * the same bet). It costs one stat per entry instead of reading and hashing
 * every byte. A symlink's target cannot be rewritten in place: replacing it
 * changes its directory's ctime.
 *
 * Taken by GNU find where the host has it: one `fstatat` per entry in C, in
 * a child process on the other core while the CLI goes on loading the
 * bridge (the walk below, in a freshly started node, costs 35-90 ms of the
 * main thread's CPU for server-memory's 4,261 entries; find, 10-20 ms on
 * its own core). Elsewhere the tree is walked here. The two methods stamp one
 * tree differently, so a change of method only costs one full digest.
 */
export async function treeStamp(root: string): Promise<string> {
  return (await findStamp(resolve(root))) ?? walkStamp(root);
}

/**
 * Stamps started before the check that uses them: `oacp mcp run` starts the
 * stamp of the tree it will check (a child process) while its own modules
 * load, instead of after. Each is used once, by the next check of that tree
 * (which then compares it as before, before anything runs from the tree);
 * a tree nobody started a stamp for, or checked again, is stamped afresh.
 */
export class TreeStamps {
  readonly #started = new Map<string, Promise<string>>();
  readonly #stamp: (root: string) => Promise<string>;

  /** `stamp`: how a tree is stamped (treeStamp). */
  constructor(stamp: (root: string) => Promise<string> = treeStamp) {
    this.#stamp = stamp;
  }

  /** Starts the stamp of `root` now, unless one is already running for it. */
  start(root: string): void {
    const key = resolve(root);
    if (this.#started.has(key)) return;
    const stamp = this.#stamp(key);
    stamp.catch(() => undefined);
    this.#started.set(key, stamp);
  }

  /** The stamp started for `root` (given out once), else one taken now. */
  take(root: string): Promise<string> {
    const key = resolve(root);
    const started = this.#started.get(key);
    this.#started.delete(key);
    return started ?? this.#stamp(key);
  }
}

/** GNU find's -printf: type, permission bits, size, device:inode, mtime and ctime (ns), the path; NUL-ended. */
const FIND_FORMAT = '%y %m %s %D:%i %T@ %C@ %P\\0';
/** The root's own record, checked before a stamp is trusted: a find that printed its directives literally (or left fields out) stamps nothing. */
const ROOT_RECORD = /^d [0-7]+ \d+ \d+:\d+ \d+\.\d{9,} \d+\.\d{9,} $/;
/** Fixed paths only: a `find` earlier on PATH must not vouch for a tree. */
const FIND_PATHS = ['/usr/bin/find', '/bin/find'];

/**
 * The stamp from GNU find (the first of `finds` that exists), or undefined when there is none or it
 * did not list the whole tree cleanly.
 */
export function findStamp(root: string, finds: readonly string[] = FIND_PATHS): Promise<string | undefined> {
  const find = finds.find((path) => existsSync(path));
  if (find === undefined) return Promise.resolve(undefined);
  return new Promise((done) => {
    const listing = createHash('sha256');
    let first: Buffer | undefined = Buffer.alloc(0);
    let clean = true;
    const child = spawn(find, ['-P', root, '-printf', FIND_FORMAT], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { LC_ALL: 'C' },
    });
    child.stdout.on('data', (chunk: Buffer) => {
      listing.update(chunk);
      if (first === undefined) return;
      first = Buffer.concat([first, chunk]);
      const end = first.indexOf(0);
      if (end === -1 && first.length < 4096) return;
      if (end === -1 || !ROOT_RECORD.test(first.subarray(0, end).toString('latin1'))) clean = false;
      first = undefined;
    });
    // Any complaint (an unreadable directory, an unknown directive) means the listing is not the whole tree.
    child.stderr.on('data', () => {
      clean = false;
    });
    child.once('error', () => done(undefined));
    child.once('close', (code) =>
      done(code === 0 && clean && first === undefined ? listing.digest('hex') : undefined),
    );
  });
}

/** The same fingerprint taken in this process: one readdir (with file types) per directory, one lstat per other entry. */
export function walkStamp(root: string): string {
  const listing = createHash('sha256');
  walk(root, '', listing);
  return listing.digest('hex');
}

function walk(root: string, relative: string, listing: ReturnType<typeof createHash>): void {
  const dir = relative === '' ? root : join(root, relative);
  // The directory's own metadata first: an entry added, removed or renamed in it moves its ctime.
  const self = lstatSync(dir, { bigint: true });
  const lines = [
    `. ${JSON.stringify(relative)} ${self.mode} ${self.dev}:${self.ino} ${self.mtimeNs} ${self.ctimeNs}`,
  ];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  const subdirectories: string[] = [];
  for (const entry of entries) {
    const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
    if (entry.isDirectory()) {
      lines.push(`d ${JSON.stringify(path)}`);
      subdirectories.push(path);
      continue;
    }
    const stat = lstatSync(join(dir, entry.name), { bigint: true });
    lines.push(
      `${JSON.stringify(path)} ${stat.mode} ${stat.size} ${stat.dev}:${stat.ino} ${stat.mtimeNs} ${stat.ctimeNs}`,
    );
  }
  listing.update(`${lines.join('\n')}\n`);
  for (const path of subdirectories) walk(root, path, listing);
}
