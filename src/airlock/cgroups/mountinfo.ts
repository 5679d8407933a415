import { readFileSync } from 'node:fs';

/** One cgroup2 mount of this process's mount namespace, with its superblock options. */
export interface Cgroup2Mount {
  readonly mountPoint: string;
  /** The superblock's options (after the ` - cgroup2 SOURCE ` of a mountinfo line): `nsdelegate`, `favordynmods`… */
  readonly superOptions: readonly string[];
}

/** `\040`-style octal escapes of mountinfo paths. */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/**
 * The cgroup2 mounts of a /proc/PID/mountinfo text:
 * `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - TYPE SOURCE SUPEROPTIONS`.
 * The per-mount options (before the optional fields) never carry
 * favordynmods; the superblock's do.
 */
export function cgroup2Mounts(mountinfo: string): Cgroup2Mount[] {
  return mountinfo.split('\n').flatMap((line) => {
    const fields = line.trim().split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6 || fields[dash + 1] !== 'cgroup2') return [];
    const mountPoint = fields[4];
    const superOptions = fields[dash + 3];
    if (mountPoint === undefined || superOptions === undefined) return [];
    return [{ mountPoint: unescapeOctal(mountPoint), superOptions: superOptions.split(',') }];
  });
}

/** The cgroup2 mount holding `path` (the longest mount point above it), from this process's mountinfo. */
export function cgroup2MountOf(path: string, mountinfo: string = readMountinfo()): Cgroup2Mount | undefined {
  const above = cgroup2Mounts(mountinfo).filter(
    (mount) => path === mount.mountPoint || path.startsWith(`${mount.mountPoint.replace(/\/$/, '')}/`),
  );
  return above.sort((a, b) => b.mountPoint.length - a.mountPoint.length)[0];
}

function readMountinfo(): string {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return '';
  }
}
