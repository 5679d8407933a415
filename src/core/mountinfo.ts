import { readFileSync } from 'node:fs';

/** One mount of a /proc/PID/mountinfo text. */
export interface MountInfoEntry {
  readonly id: number;
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
    const mountPoint = fields[4];
    const fsType = fields[dash + 1];
    if (dash < 6 || !Number.isInteger(id) || mountPoint === undefined || fsType === undefined) return [];
    const superOptions = fields[dash + 3]?.split(',') ?? [];
    return [{ id, mountPoint: unescapeOctal(mountPoint), fsType, superOptions }];
  });
}

/** This process's mounts; throws when /proc/self/mountinfo cannot be read (callers that check grants fail closed). */
export function readOwnMounts(): MountInfoEntry[] {
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
}
