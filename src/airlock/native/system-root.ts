import { existsSync, lstatSync, readlinkSync, statSync } from 'node:fs';

/**
 * The read-only system part of a sandbox root: programs and libraries under
 * /usr (no user data lives there), the merged-/usr links, and the few /etc
 * files the dynamic loader, TLS and packaged runtimes read: name-service
 * tables without accounts (protocols, services, gai.conf), the distribution's
 * identity (os-release, which Playwright and others read to pick binaries),
 * the time zone, MIME types, fontconfig (a headless browser renders no text
 * without it) and Debian's chromium launcher configuration (/usr/bin/chromium
 * is a shell script that sources /etc/chromium.d/* and stops without it).
 * All are world-readable package files. Notably absent: /etc/passwd,
 * /etc/shadow, /etc/resolv.conf (no DNS inside), /home, /root, /var, /run.
 */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
const SYSTEM_ETC = [
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/alternatives',
  '/etc/ssl',
  '/etc/ca-certificates',
  '/etc/localtime',
  '/etc/nsswitch.conf',
  '/etc/host.conf',
  '/etc/gai.conf',
  '/etc/protocols',
  '/etc/services',
  '/etc/os-release',
  '/etc/debian_version',
  '/etc/timezone',
  '/etc/mime.types',
  '/etc/fonts',
  '/etc/chromium',
  '/etc/chromium.d',
];

/** One piece of the system root as found on this host. */
export type SystemEntry =
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string }
  | { readonly kind: 'bind'; readonly path: string; readonly directory: boolean };

/** The system dirs and files as they exist here: symlinks stay symlinks, the rest is bound read-only. */
export function systemRootEntries(): SystemEntry[] {
  const entries: SystemEntry[] = [];
  for (const path of [...SYSTEM_DIRS, ...SYSTEM_ETC]) {
    let stat: ReturnType<typeof lstatSync>;
    try {
      stat = lstatSync(path);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink() && SYSTEM_DIRS.includes(path)) {
      entries.push({ kind: 'symlink', path, target: readlinkSync(path) });
    } else if (existsSync(path)) {
      entries.push({ kind: 'bind', path, directory: statSync(path).isDirectory() });
    }
  }
  return entries;
}

/** bwrap arguments recreating the system root outside /etc (the hardened tier binds /etc as one view, etc-view.ts). */
export function systemRootArgs(entries: readonly SystemEntry[] = systemRootEntries()): string[] {
  return entries
    .filter((entry) => !entry.path.startsWith('/etc/'))
    .flatMap((entry) =>
      entry.kind === 'symlink'
        ? ['--symlink', entry.target, entry.path]
        : ['--ro-bind', entry.path, entry.path],
    );
}

/** Whether `path` is already visible through the system dirs. */
export function underSystemDirs(path: string): boolean {
  return SYSTEM_DIRS.some((dir) => path === dir || path.startsWith(`${dir}/`));
}
