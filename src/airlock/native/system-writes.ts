import { realpathSync } from 'node:fs';
import { OacpError } from '../../core/errors.js';
import {
  type FilesystemPlace,
  filesystemPlace,
  type MountInfoEntry,
  mountShowing,
  readOwnMounts,
} from '../../core/mountinfo.js';
import type { NativeErrorCode } from './errors.js';
import type { Mount } from './mount-plan.js';
import { overlapsProtected } from './protected-paths.js';
import type { SandboxUser } from './sandbox-user.js';

/**
 * Host directories whose files the whole host runs or trusts, from the FHS:
 * programs and libraries (/usr, /bin, /sbin, /lib*), add-on packages (/opt),
 * configuration (/etc), the kernel and boot loader (/boot, /efi), and /var,
 * whose state root's services act on (/var/lib/dpkg scripts apt runs,
 * /var/spool/cron crontabs, /var/cache/debconf answers, /var/log), and /run,
 * /var/run's real path, whose runtime configuration root's services read
 * (/run/systemd/system units, /run/udev/rules.d, /run/tmpfiles.d) and whose
 * sockets they answer (/run/docker.sock). A workload that writes there as
 * host root can replace what root runs next. Not here: /home and /root (an
 * account's own data: granting them writes only what their owner could
 * already change for themselves), /srv, /tmp, /mnt and /media (data, not code
 * the host runs); /proc, /sys, /dev and /run/oacp are never bound at all (prepare.ts).
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
  '/run',
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
 * Where each system directory that exists lies on its filesystem, by its real path (/lib is
 * usr/lib on merged-/usr hosts); directories that are their own real path first, so a refusal
 * names /usr rather than the /lib link into it.
 */
function systemPlaces(mounts: readonly MountInfoEntry[]): { dir: string; place: FilesystemPlace }[] {
  const places = SYSTEM_WRITE_DIRS.flatMap((dir) => {
    let real: string;
    try {
      real = realpathSync(dir);
    } catch {
      return [];
    }
    const place = filesystemPlace(real, mounts);
    return place === undefined ? [] : [{ dir, place, linked: real !== dir }];
  });
  return places.sort((a, b) => Number(a.linked) - Number(b.linked));
}

function overlaps(a: string, b: string): boolean {
  const inside = (child: string, parent: string): boolean =>
    parent === '/' || child === parent || child.startsWith(`${parent}/`);
  return inside(a, b) || inside(b, a);
}

/**
 * The system directory a grant's source shows under another name (a bind mount of `/usr/lib` at
 * `/mnt/lib`, a second mount of the root filesystem), found by where it lies on its filesystem
 * (device and path from mountinfo), with the directory of that filesystem it is.
 */
function boundSystemDir(
  source: string,
  mounts: readonly MountInfoEntry[],
  places: readonly { dir: string; place: FilesystemPlace }[],
): { dir: string; shown: string } | undefined {
  const place = filesystemPlace(source, mounts);
  if (place === undefined) return undefined;
  const hit = places.find(
    ({ place: system }) => system.device === place.device && overlaps(place.path, system.path),
  );
  return hit === undefined ? undefined : { dir: hit.dir, shown: place.path };
}

/**
 * A mount below the grant's source that shows a system directory: both tiers bind a grant with
 * what is mounted inside it (bwrap's bind is recursive, the idmapped clone is AT_RECURSIVE), so
 * granting `/srv/chroot:rw` where `/srv/chroot/usr` is a bind of `/usr` writes `/usr`. Every mount
 * listed below it counts, also one hidden under a newer mount on its point (refusing is the safe side).
 */
function heldSystemMount(
  source: string,
  mounts: readonly MountInfoEntry[],
  places: readonly { dir: string; place: FilesystemPlace }[],
): { dir: string; shown: string; at: string } | undefined {
  const prefix = source.endsWith('/') ? source : `${source}/`;
  for (const mount of mounts) {
    if (!mount.mountPoint.startsWith(prefix)) continue;
    const hit = places.find(({ place }) => place.device === mount.device && overlaps(mount.root, place.path));
    if (hit !== undefined) return { dir: hit.dir, shown: mount.root, at: mount.mountPoint };
  }
  return undefined;
}

/** Where an overlay's writes land, its upperdir, when this mount namespace shows it (symlinks resolved). */
function overlayUpper(mount: MountInfoEntry): string | undefined {
  if (mount.fsType !== 'overlay') return undefined;
  const option = mount.superOptions.find((each) => each.startsWith('upperdir='));
  try {
    // No upperdir: a read-only overlay, nothing is written. One this namespace does not show (a
    // container's own root overlay, named in the host's) holds none of this namespace's directories.
    return option === undefined ? undefined : realpathSync(option.slice('upperdir='.length));
  } catch {
    return undefined;
  }
}

/**
 * An overlay the grant is on or holds, whose writes land in an upper directory that is, is under,
 * holds or shows a system directory (`mount -t overlay -o upperdir=/opt/app,... overlay /srv/merged`
 * then `/srv/merged:rw`): its filesystem is the overlay's, which no system directory lies on.
 */
function overlaySystemUpper(
  source: string,
  mounts: readonly MountInfoEntry[],
  places: readonly { dir: string; place: FilesystemPlace }[],
): { at: string; upper: string; dir: string } | undefined {
  const prefix = source.endsWith('/') ? source : `${source}/`;
  const showing = mountShowing(source, mounts);
  const held = mounts.filter((mount) => mount.mountPoint.startsWith(prefix));
  for (const mount of showing === undefined ? held : [showing, ...held]) {
    const upper = overlayUpper(mount);
    if (upper === undefined) continue;
    const dir =
      overlapsProtected(upper, SYSTEM_WRITE_DIRS) ??
      boundSystemDir(upper, mounts, places)?.dir ??
      heldSystemMount(upper, mounts, places)?.dir;
    if (dir !== undefined) return { at: mount.mountPoint, upper, dir };
  }
  return undefined;
}

function refusal(target: string, detail: string, user: SandboxUser): OacpError<NativeErrorCode> {
  return new OacpError<NativeErrorCode>(
    'AIRLOCK_BAD_SPEC',
    `grant ${target}:rw${detail}, and the workload's writes there would land on the host as uid ${user.uid} gid ${user.gid} (root's), able to replace what the host runs; no sandbox may: grant it read-only (--allow-files ${target}, manifest: capabilities.file_read instead of file_write), or grant a directory outside ${SYSTEM_WRITE_DIRS.join(', ')} or one an unprivileged account owns`,
  );
}

/**
 * Refuses a writable grant that is, is inside, or holds (`/:rw`, `/var:rw`)
 * a system directory when the files the workload writes there would land on
 * the host as root's uid or gid: through an idmapped grant of root's
 * directory, the fallback identity (the grants' owner), or a sandbox run as
 * root (`runAs` invoker or uid 0). Writes landing as an unprivileged id
 * (an account's own directory under /opt; a world-writable one such as
 * /var/tmp, written as the workload's own id, is refused by identity.ts for
 * another reason) are that account's business and pass here. The grant's
 * source (symlinks resolved) and its name inside the sandbox are both checked
 * by name, and the source also by where it lies on its filesystem, so a bind
 * mount or a second mount of a system directory under another name is refused
 * too, as is a grant holding such a mount (it is bound with the grant) and one on (or holding)
 * an overlay whose upper directory, where its writes land, is or shows a system directory. `readMounts` is asked only when a privileged writable grant passed the
 * name check; when it throws (no /proc), the grant is refused (fail closed).
 */
export function refuseSystemWrites(
  mounts: readonly Mount[],
  writesAs: WriteIdentity,
  readMounts: () => readonly MountInfoEntry[] = readOwnMounts,
): void {
  let table:
    | { mounts: readonly MountInfoEntry[]; places: { dir: string; place: FilesystemPlace }[] }
    | undefined;
  mounts.forEach((mount, index) => {
    if (!mount.writable) return;
    const path = [mount.source, mount.target].find((each) => overlapsProtected(each, SYSTEM_WRITE_DIRS));
    const system = path === undefined ? undefined : overlapsProtected(path, SYSTEM_WRITE_DIRS);
    const user = writesAs(index);
    if (!privileged(user)) return;
    if (path !== undefined && system !== undefined) {
      const host = path === mount.target ? '' : ` (host ${path})`;
      const relation = path === system ? 'is' : path.startsWith(`${system}/`) ? 'is under' : 'holds';
      throw refusal(mount.target, `${host} ${relation} the system directory ${system}`, user);
    }
    if (table === undefined) {
      let read: readonly MountInfoEntry[];
      try {
        read = readMounts();
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
        throw refusal(
          mount.target,
          ` may show a system directory under another name (a bind mount), which cannot be checked without /proc/self/mountinfo (${code})`,
          user,
        );
      }
      table = { mounts: read, places: systemPlaces(read) };
    }
    const bound = boundSystemDir(mount.source, table.mounts, table.places);
    const host = mount.source === mount.target ? '' : ` (host ${mount.source})`;
    if (bound === undefined) {
      const held = heldSystemMount(mount.source, table.mounts, table.places);
      if (held === undefined) {
        const overlay = overlaySystemUpper(mount.source, table.mounts, table.places);
        if (overlay === undefined) return;
        throw refusal(
          mount.target,
          `${host} writes through the overlay at ${overlay.at} into its upper directory ${overlay.upper}, which overlaps the system directory ${overlay.dir}`,
          user,
        );
      }
      throw refusal(
        mount.target,
        `${host} holds a mount at ${held.at} that shows ${held.shown} of the filesystem that holds the system directory ${held.dir} (a bind mount or second mount of it, bound with the grant)`,
        user,
      );
    }
    throw refusal(
      mount.target,
      `${host} shows ${bound.shown} of the filesystem that holds the system directory ${bound.dir} (a bind mount or second mount of it)`,
      user,
    );
  });
}
