import { readFileSync } from 'node:fs';
import { parseMountinfo } from '../../core/mountinfo.js';

/** One cgroup2 mount of this process's mount namespace, with its superblock options. */
export interface Cgroup2Mount {
  readonly mountPoint: string;
  /** The superblock's options (after the ` - cgroup2 SOURCE ` of a mountinfo line): `nsdelegate`, `favordynmods`… */
  readonly superOptions: readonly string[];
}

/** The cgroup2 mounts of a /proc/PID/mountinfo text. */
export function cgroup2Mounts(mountinfo: string): Cgroup2Mount[] {
  return parseMountinfo(mountinfo)
    .filter((mount) => mount.fsType === 'cgroup2')
    .map(({ mountPoint, superOptions }) => ({ mountPoint, superOptions }));
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
