import { existsSync, lstatSync, readlinkSync } from 'node:fs';

/**
 * The read-only system part of a sandbox root: programs and libraries under
 * /usr (no user data lives there), the merged-/usr links, and the few /etc
 * files the dynamic loader and TLS need. Notably absent: /etc/passwd,
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
];

/** bwrap arguments recreating the system dirs: symlinks as symlinks, directories as read-only binds. */
export function systemRootArgs(): string[] {
  const args: string[] = [];
  for (const path of SYSTEM_DIRS) {
    let stat: ReturnType<typeof lstatSync>;
    try {
      stat = lstatSync(path);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) args.push('--symlink', readlinkSync(path), path);
    else if (stat.isDirectory()) args.push('--ro-bind', path, path);
  }
  for (const path of SYSTEM_ETC) if (existsSync(path)) args.push('--ro-bind', path, path);
  return args;
}

/** Whether `path` is already visible through the system dirs. */
export function underSystemDirs(path: string): boolean {
  return SYSTEM_DIRS.some((dir) => path === dir || path.startsWith(`${dir}/`));
}
