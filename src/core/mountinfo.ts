import { readFileSync } from 'node:fs';

/** One mount of a /proc/PID/mountinfo text. */
export interface MountInfoEntry {
  readonly id: number;
  /** The filesystem's device, `MAJOR:MINOR` (st_dev of its files). */
  readonly device: string;
  /** Which directory of that filesystem is mounted here (`/` for the whole; `/usr/lib` for a bind of it), decoded. */
  readonly root: string;
  /** Where it is mounted, octal escapes (`\040`) decoded. */
  readonly mountPoint: string;
  /** The filesystem type after the ` - ` separator: `proc`, `cgroup2`, `ext4`… */
  readonly fsType: string;
  /** The superblock's options (after `TYPE SOURCE`): `nsdelegate`, `favordynmods`… */
  readonly superOptions: readonly string[];
}

function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/**
 * The mounts of a mountinfo text, one per well-formed line:
 * `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - TYPE SOURCE SUPEROPTIONS`.
 * The per-mount options (before the optional fields) never carry superblock options.
 */
export function parseMountinfo(text: string): MountInfoEntry[] {
  return text.split('\n').flatMap((line) => {
    const fields = line.trim().split(' ');
    const dash = fields.indexOf('-');
    const id = Number(fields[0]);
    const [, , device, root, mountPoint] = fields;
    const fsType = fields[dash + 1];
    if (
      dash < 6 ||
      !Number.isInteger(id) ||
      device === undefined ||
      root === undefined ||
      mountPoint === undefined ||
      fsType === undefined
    )
      return [];
    // Split before decoding: a comma inside a value (an overlay's upperdir) is escaped as \054.
    const superOptions = fields[dash + 3]?.split(',').map(unescapeOctal) ?? [];
    return [
      { id, device, root: unescapeOctal(root), mountPoint: unescapeOctal(mountPoint), fsType, superOptions },
    ];
  });
}

/** This process's mounts; throws when /proc/self/mountinfo cannot be read (callers that check grants fail closed). */
export function readOwnMounts(): MountInfoEntry[] {
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
}

function within(path: string, dir: string): boolean {
  return dir === '/' || path === dir || path.startsWith(`${dir}/`);
}

/** Where a path lies on its filesystem, whatever mount shows it: the device and the path from that filesystem's root. */
export interface FilesystemPlace {
  readonly device: string;
  readonly path: string;
}

/**
 * The filesystem place of `path` (absolute, symlinks already resolved): the
 * mount showing it is the one with the longest mount point above it, the last
 * listed when several are stacked on one point (mountinfo lists mounts in the
 * order they were made, and the newest hides the others); the path inside it
 * is that mount's root joined with the rest. A bind mount of `/usr/lib` at
 * `/mnt/lib` puts `/mnt/lib/x` at `/usr/lib/x` of the root filesystem's device,
 * which a comparison of names never sees. Undefined when no mount holds it.
 */
export function filesystemPlace(
  path: string,
  mounts: readonly MountInfoEntry[],
): FilesystemPlace | undefined {
  const best = mountShowing(path, mounts);
  if (best === undefined) return undefined;
  const rest = best.mountPoint === '/' ? path : path.slice(best.mountPoint.length);
  const joined = `${best.root.replace(/\/$/, '')}${rest}`;
  return { device: best.device, path: joined === '' ? '/' : joined };
}

/** The mount that shows `path`: the longest mount point above it, the last listed of mounts stacked on one point. */
export function mountShowing(path: string, mounts: readonly MountInfoEntry[]): MountInfoEntry | undefined {
  let best: MountInfoEntry | undefined;
  for (const mount of mounts) {
    if (!within(path, mount.mountPoint)) continue;
    if (best === undefined || mount.mountPoint.length >= best.mountPoint.length) best = mount;
  }
  return best;
}
