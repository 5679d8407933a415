import { lstatSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { startsWithShebang } from '../airlock/native/executable.js';
import { oacpHomeAt } from '../airlock/native/home-registry.js';
import {
  type AccountHomes,
  overlapsProtected,
  protectedPaths,
  readAccountHomes,
} from '../airlock/native/protected-paths.js';
import { findPackageJson, type ServerIdentity } from './server-identity.js';

/** Executables whose install prefix holds their standard library: the only ones that widen to a prefix. */
const INTERPRETER = /^(node|nodejs|deno|bun|python(\d+(\.\d+)?)?|pypy\d*)$/;

/**
 * Host paths a program needs just to run, granted read-only without flags,
 * from explicit roots only (one rule for `oacp run` and `oacp mcp run`):
 * - the executable itself;
 * - when it is an interpreter (node, python…) living in `PREFIX/bin/`, its
 *   install prefix (an nvm or pyenv version directory), never a system or
 *   home directory: a `~/bin/cat` grants nothing but itself;
 * - the package root of the script (the interpreter's operand, or the
 *   executable itself when it is a `#!` script, as npm's bin links are)
 *   (the directory of its package.json) and
 *   the `node_modules` directories Node would resolve from the script;
 *   the script alone when it has no package or that would be too broad;
 *   a `node_modules` that is a symlink is not followed (its target is no
 *   explicit root: a package shipping `node_modules -> /root` would grant it).
 * Nothing overlapping the OACP home (master key, keys) is ever returned, nor
 * anything here writable. `accounts`: the account table and home registries,
 * when the caller read them already (readAccountHomes).
 */
export function implicitReadPaths(
  identity: ServerIdentity,
  protect: readonly string[] = [],
  accounts: AccountHomes = readAccountHomes(),
): string[] {
  // Every check below goes by one reading of /etc/passwd and the home registries (`accounts`).
  const homes = [...protectedPaths(protect), ...accounts.oacpHomes];
  const tooBroad = broadTest(accounts.homes);
  const paths = new Set<string>();
  const executable = identity.executable?.path;
  if (executable !== undefined) {
    paths.add(executable);
    const prefix = interpreterPrefix(executable, tooBroad);
    if (prefix !== undefined) paths.add(prefix);
  }
  // An executable that is a script (npm's `.bin/NAME`, by its real path) is code like an interpreter's operand.
  const script =
    identity.script?.path ??
    (executable !== undefined && startsWithShebang(executable) ? executable : undefined);
  if (script !== undefined) {
    const pkg = findPackageJson(script);
    const pkgDir = pkg === undefined ? undefined : dirname(pkg);
    paths.add(pkgDir === undefined || tooBroad(pkgDir) ? script : pkgDir);
    for (const dir of nodeModulesPaths(script)) if (!tooBroad(dirname(dir))) paths.add(dir);
  }
  return [...paths]
    .map((path) => resolve(path))
    .filter(
      (path) =>
        overlapsProtected(path, homes) === undefined &&
        overlapsProtected(real(path), homes) === undefined &&
        oacpHomeAt(path) === undefined,
    );
}

function real(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return path;
  }
}

/** `PREFIX` for an interpreter at `PREFIX/bin/NAME` (by its real path), unless PREFIX is too broad. */
function interpreterPrefix(executable: string, tooBroad: (dir: string) => boolean): string | undefined {
  const file = real(executable);
  if (!INTERPRETER.test(basename(file))) return undefined;
  const bin = dirname(file);
  if (basename(bin) !== 'bin') return undefined;
  const prefix = dirname(bin);
  return tooBroad(prefix) ? undefined : prefix;
}

/**
 * The `node_modules` directories Node's resolver tries from `file` that exist as directories
 * themselves: a symlink named node_modules could point anywhere on the host, and the mount plan
 * binds an implicit path's target too.
 */
function nodeModulesPaths(file: string): string[] {
  const found: string[] = [];
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (basename(dir) !== 'node_modules') {
      const candidate = join(dir, 'node_modules');
      if (isRealDirectory(candidate)) found.push(candidate);
    }
    if (dirname(dir) === dir) break;
  }
  return found;
}

function isRealDirectory(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

function sharedTemporary(dir: string): boolean {
  try {
    return (statSync(dir).mode & 0o1002) === 0o1002;
  } catch {
    return false;
  }
}

/**
 * Whether a directory is never granted implicitly: it holds far more than one program's code.
 * `accounts`: every account's home (accountHomes), read once for all the directories tested.
 */
function broadTest(accounts: readonly string[]): (dir: string) => boolean {
  const homes = [homedir(), ...accounts].flatMap((home) => [resolve(home), real(home)]);
  const broad = new Set([
    '/',
    '/usr',
    '/usr/local',
    '/usr/lib',
    '/etc',
    '/home',
    '/root',
    '/tmp',
    '/var',
    '/opt',
    '/srv',
    ...homes,
    // A home's ~/.local is its /usr/local: `n` with N_PREFIX=~/.local puts node in ~/.local/bin,
    // and its prefix would be ~/.local/share (keyrings, app data) and ~/.local/state too.
    ...homes.map((home) => join(home, '.local')),
  ]);
  return (dir) => isBroad(resolve(dir), broad, homes);
}

function isBroad(normalized: string, broad: ReadonlySet<string>, homes: readonly string[]): boolean {
  // A parent of a home is broad too; so is a shared temporary directory (world-writable and
  // sticky, like /tmp): any user can plant a package.json or node_modules there, and the whole
  // directory would become the package. By depth: one level (/var, /app) is always broad, and
  // two levels are broad inside a system directory (/var/lib, /usr/share, /etc/ssl hold every
  // package's data), while two levels elsewhere are one project's (/srv/app, /opt/app, /tmp/x).
  const levels = normalized.split(sep).filter((part) => part !== '');
  return (
    broad.has(normalized) ||
    sharedTemporary(normalized) ||
    homes.some((home) => home.startsWith(`${normalized}${sep}`)) ||
    levels.length <= 1 ||
    (levels.length === 2 && SYSTEM_TOPS.has(levels[0] ?? ''))
  );
}

/** Top-level directories of the system itself: nothing two levels down in them is one program's own. */
const SYSTEM_TOPS = new Set([
  'usr',
  'var',
  'etc',
  'lib',
  'lib32',
  'lib64',
  'libx32',
  'bin',
  'sbin',
  'boot',
  'run',
  'snap',
  'nix',
  'proc',
  'sys',
  'dev',
]);
