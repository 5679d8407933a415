import { realpathSync, statfsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { notUtf8PathProblem } from '../capability/path-glob.js';
import { OacpError } from '../core/errors.js';
import { refuseOthersHome } from '../identity/home-owner.js';
import { CliExit } from './io.js';

interface Source {
  /** The flag or variable that names the directory: what the user changes to fix it. */
  readonly name: string;
  readonly path: string;
}

/** `--home` wins, then `$OACP_HOME`, then `~/.oacp`. */
function homeSource(flag: string | undefined, env: NodeJS.ProcessEnv): Source {
  if (flag !== undefined && flag !== '') return { name: '--home', path: resolve(flag) };
  const fromEnv = env.OACP_HOME;
  if (fromEnv !== undefined && fromEnv !== '') return { name: 'OACP_HOME', path: resolve(fromEnv) };
  return { name: 'HOME', path: join(homedir(), '.oacp') };
}

/**
 * Variables naming other directories OACP makes and writes (the log's signed-size state,
 * the launcher and package caches) or the home they default under.
 */
const WRITTEN_UNDER = [
  'OACP_LOG_STATE_DIR',
  'XDG_STATE_HOME',
  'XDG_CACHE_HOME',
  'OACP_PACKAGE_STORE',
  'HOME',
];

/**
 * Filesystems of the kernel's own objects (statfs f_type): no file OACP keeps belongs there, and
 * Node's recursive mkdir never returns on a missing path under /proc; under
 * /sys/fs/cgroup it would make a cgroup.
 */
const KERNEL_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'proc filesystem'],
  [0x62656572, 'sysfs filesystem'],
  [0x27e0eb, 'cgroup filesystem'],
  [0x63677270, 'cgroup2 filesystem'],
  [0x64626720, 'debugfs filesystem'],
  [0x74726163, 'tracefs filesystem'],
  [0x73636673, 'securityfs filesystem'],
  [0xcafe4a11, 'bpf filesystem'],
]);

/** Directories of the kernel's own objects by name, whatever filesystem a mount put on them. */
const KERNEL_DIRECTORIES = ['/proc', '/sys'];

/**
 * The kernel filesystem (or kernel directory) `path` is on, judged on its nearest existing
 * directory (symlinks resolved), if any.
 */
export function kernelFilesystemOf(path: string): string | undefined {
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    let type: number;
    let real: string;
    try {
      real = realpathSync(dir);
      type = statfsSync(real).type;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dir !== '/') continue;
      // Cannot tell what holds it: the command's own access reports why it cannot use it.
      return undefined;
    }
    const named = KERNEL_DIRECTORIES.find((top) => real === top || real.startsWith(`${top}/`));
    return KERNEL_FILESYSTEMS.get(type) ?? (named === undefined ? undefined : `${named.slice(1)} directory`);
  }
}

/**
 * The OACP home for a command, refused (exit 2, naming the flag or variable) when it, or a
 * directory another variable names for OACP to write, is on /proc, /sys or another kernel
 * filesystem, or holds a byte that is not UTF-8: Node has read that byte as U+FFFD, and OACP
 * would make and use a look-alike directory instead of the one named (docs/manifest.md).
 */
export function checkedHome(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const home = homeSource(flag, env);
  const others = WRITTEN_UNDER.flatMap((name) => {
    const value = env[name];
    return value === undefined || value === '' || name === home.name ? [] : [{ name, path: resolve(value) }];
  });
  for (const source of [home, ...others]) {
    if (notUtf8PathProblem(source.path) !== undefined) {
      throw new CliExit(
        `${source.name} names ${source.path}, which holds a byte that is not UTF-8 (read as U+FFFD), so OACP would use a look-alike directory instead of the one named; set ${source.name} to a directory whose path is UTF-8`,
        2,
      );
    }
    const kind = kernelFilesystemOf(source.path);
    if (kind !== undefined) {
      throw new CliExit(
        `${source.name} names ${source.path}, on the kernel's ${kind}, where OACP cannot keep files; set ${source.name} to a directory elsewhere`,
        2,
      );
    }
  }
  try {
    refuseOthersHome(home.path, process.getuid?.(), home.name);
  } catch (error) {
    if (error instanceof OacpError) throw new CliExit(error.message, 2);
    throw error;
  }
  return home.path;
}
