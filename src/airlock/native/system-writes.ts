import { OacpError } from '../../core/errors.js';
import type { NativeErrorCode } from './errors.js';
import type { Mount } from './mount-plan.js';
import { overlapsProtected } from './protected-paths.js';
import type { SandboxUser } from './sandbox-user.js';

/**
 * Host directories whose files the whole host runs or trusts, from the FHS:
 * programs and libraries (/usr, /bin, /sbin, /lib*), add-on packages (/opt),
 * configuration (/etc), the kernel and boot loader (/boot, /efi), and /var,
 * whose state root's services act on (/var/lib/dpkg scripts apt runs,
 * /var/spool/cron crontabs, /var/cache/debconf answers, /var/log). A
 * workload that writes there as host root can replace what root runs next.
 * Not here: /home and /root (an account's own data: granting them writes
 * only what their owner could already change for themselves), /srv, /tmp,
 * /mnt and /media (data, not code the host runs); /proc, /sys, /dev and /run
 * are never bound at all (prepare.ts).
 */
export const SYSTEM_WRITE_DIRS: readonly string[] = [
  '/bin',
  '/boot',
  '/efi',
  '/etc',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/opt',
  '/sbin',
  '/usr',
  '/var',
];

/** How one grant's writes land on the host: the owner of an idmapped grant, else the workload's account. */
export type WriteIdentity = (index: number) => SandboxUser;

function privileged(user: SandboxUser): boolean {
  return user.uid === 0 || user.gid === 0;
}

/**
 * Refuses a writable grant that is, is inside, or holds (`/:rw`, `/var:rw`)
 * a system directory when the files the workload writes there would land on
 * the host as root's uid or gid: through an idmapped grant of root's
 * directory, the fallback identity (the grants' owner), or a sandbox run as
 * root (`runAs` invoker or uid 0). Writes landing as an unprivileged id
 * (the dedicated sandbox uid in world-writable /var/tmp, or an account's own
 * directory under /opt) are that account's business and pass. The grant's
 * source (symlinks resolved) and its name inside the sandbox are both checked.
 */
export function refuseSystemWrites(mounts: readonly Mount[], writesAs: WriteIdentity): void {
  mounts.forEach((mount, index) => {
    if (!mount.writable) return;
    const path = [mount.source, mount.target].find((each) => overlapsProtected(each, SYSTEM_WRITE_DIRS));
    const system = path === undefined ? undefined : overlapsProtected(path, SYSTEM_WRITE_DIRS);
    if (path === undefined || system === undefined) return;
    const user = writesAs(index);
    if (!privileged(user)) return;
    const host = path === mount.target ? '' : ` (host ${path})`;
    const relation = path === system ? 'is' : path.startsWith(`${system}/`) ? 'is under' : 'holds';
    throw new OacpError<NativeErrorCode>(
      'AIRLOCK_BAD_SPEC',
      `grant ${mount.target}:rw${host} ${relation} the system directory ${system}, and the workload's writes there would land on the host as uid ${user.uid} gid ${user.gid} (root's), able to replace what the host runs; no sandbox may: grant it read-only (--allow-files ${mount.target}, manifest: capabilities.file_read instead of file_write), or grant a directory outside ${SYSTEM_WRITE_DIRS.join(', ')} or one an unprivileged account owns`,
    );
  });
}
