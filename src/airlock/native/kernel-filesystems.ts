import { readFileSync } from 'node:fs';
import type { MountInfoEntry } from '../../core/mountinfo.js';

/**
 * Filesystems that are kernel interfaces, not files. The sandbox gets its own
 * /proc, /sys and /dev and no other; the host's, under any name (a bind
 * mount of /proc elsewhere, a second sysfs or cgroup mount, one mounted inside
 * a granted directory), would show every host process's command line, let a
 * workload that runs as host uid 0 write cgroup files, or reach host IPC.
 * hugetlbfs pages are charged outside the memory cgroup.
 */
const KERNEL_FILESYSTEMS: ReadonlySet<string> = new Set([
  'proc',
  'sysfs',
  'devtmpfs',
  'devpts',
  'cgroup',
  'cgroup2',
  'debugfs',
  'tracefs',
  'securityfs',
  'bpf',
  'configfs',
  'efivarfs',
  'pstore',
  'fusectl',
  'binfmt_misc',
  'nsfs',
  'selinuxfs',
  'smackfs',
  'mqueue',
  'hugetlbfs',
  'rpc_pipefs',
  'nfsd',
]);

/** The id of the mount a descriptor was opened on (`mnt_id` in /proc/self/fdinfo). */
function mountIdOf(fd: number): number | undefined {
  const match = /^mnt_id:\s*(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/**
 * Why the grant opened as `fd` must be refused as a kernel filesystem, if it
 * must: the mount the descriptor itself is on (so no rename or second name
 * helps), and for a directory every mount below it, which is bound with it.
 * A descriptor whose mount cannot be found is refused too (fail closed).
 */
export function kernelFilesystemProblem(
  grant: string,
  fd: number,
  directory: boolean,
  mounts: readonly MountInfoEntry[],
): string | undefined {
  let id: number | undefined;
  try {
    id = mountIdOf(fd);
  } catch {
    id = undefined;
  }
  const own = id === undefined ? undefined : mounts.find((mount) => mount.id === id);
  if (own === undefined) return `cannot tell which filesystem grant ${grant} is on; refused`;
  if (KERNEL_FILESYSTEMS.has(own.fsType)) {
    return `grant ${grant} is on a host ${own.fsType} filesystem (a kernel interface, mounted at ${own.mountPoint}); no sandbox binds one, it has its own /proc, /sys and /dev`;
  }
  if (!directory) return undefined;
  const prefix = grant === '/' ? '/' : `${grant}/`;
  const inner = mounts.find(
    (mount) => mount.mountPoint.startsWith(prefix) && KERNEL_FILESYSTEMS.has(mount.fsType),
  );
  if (inner === undefined) return undefined;
  return `grant ${grant} holds the mount ${inner.mountPoint}, a host ${inner.fsType} filesystem (a kernel interface); no sandbox binds one, grant a path beside it`;
}
