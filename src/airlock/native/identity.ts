import { statSync } from 'node:fs';
import type { Quotas } from '../../capability/manifest.js';
import { OacpError } from '../../core/errors.js';
import type { NativeErrorCode } from './errors.js';
import type { Mount } from './mount-plan.js';
import { accessibleBy, checkAccess, type SandboxUser, workloadIdentity } from './sandbox-user.js';
import { refuseSystemWrites } from './system-writes.js';

/**
 * The dedicated id a workload has when OACP is root (uid and gid): gVisor's
 * process user, and what a hardened workload sees inside (bwrap --uid). On
 * the host each live hardened sandbox runs as an id of its own, leased in
 * WORKLOAD_ID+1..WORKLOAD_ID+WORKLOAD_ID_COUNT (workload-ids.ts), so kernel
 * counters kept per host uid (inotify instances...) are not shared between
 * sandboxes; WORKLOAD_ID itself is never leased (older OACP versions run
 * their hardened workloads as it). The whole range lies in 0x70000000-0x7FFDFFFF: above every subuid/subgid
 * allocation (useradd's SUB_UID_MAX is 600100000), above systemd's container
 * range (524288-1879048191), below its foreign range (0x7FFE0000) and below
 * 2^31 (no signed 32-bit trouble); no account or file should ever have one of
 * these ids, and `oacp doctor` says so when /etc/passwd, /etc/group or
 * /etc/sub[ug]id do.
 */
export const WORKLOAD_ID = 2_030_000_000;
/** How many host ids are leased, i.e. how many hardened sandboxes may run at once as root. */
export const WORKLOAD_ID_COUNT = 65_536;
export const WORKLOAD_USER: SandboxUser = { uid: WORKLOAD_ID, gid: WORKLOAD_ID };

/** Whether `id` is one of the dedicated workload ids (WORKLOAD_ID or a leased one). */
export function isWorkloadId(id: number): boolean {
  return id >= WORKLOAD_ID && id <= WORKLOAD_ID + WORKLOAD_ID_COUNT;
}

/** A bound path the workload id cannot use as is: idmapped so that OWNER's files are the workload's. */
export interface IdmappedMount {
  /** Index into the prepared mounts (and their descriptors). */
  readonly index: number;
  readonly owner: SandboxUser;
}

/** How one sandbox's workload meets the host's files. */
export interface Identity {
  /** Host account of the workload; undefined: the invoker (OACP not root, or runAs 'invoker'). */
  readonly user: SandboxUser | undefined;
  readonly idmaps: readonly IdmappedMount[];
}

/** What stands in when a grant needs an idmap this host cannot make, once the user accepts it. */
export const IDENTITY_FALLBACK =
  "as root, the workload runs as its grants' owner (host uid 0 for root's directories) without capabilities";

export interface IdentityInput {
  /** HardenedTierOptions.runAs: an explicit account, or 'invoker'. */
  readonly requested?: SandboxUser | 'invoker' | undefined;
  readonly mounts: readonly Mount[];
  readonly executable: string;
  /** Whether the mount at this index can be idmapped (the launcher's probe, run only for a grant that needs one). */
  readonly idmap: (index: number) => boolean;
  readonly quotas: Pick<Quotas, 'allow_unenforced'>;
  /** Whether the sandbox resolves the path of each source as the workload (bwrap) or not (runsc). */
  readonly parents: boolean;
  /** The dedicated id this sandbox leased (hardened); default WORKLOAD_USER (gVisor's sentry keeps its own). */
  readonly workload?: SandboxUser;
}

function ownerOf(path: string): SandboxUser {
  const stat = statSync(path);
  return { uid: stat.uid, gid: stat.gid };
}

/** Whether path is a regular file (nothing is created in it); an error counts as a directory (fail closed). */
function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * A writable directory the workload id can write as is (every account may: 1777 /tmp, a 0777
 * folder) is bound without an idmap, so what the workload leaves there belongs on the host to
 * its id: a leased one that a later hardened sandbox may lease again (gVisor's 2030000000 is
 * every gVisor sandbox's), which would then own those files (read a 0600 one, change or delete
 * it). No mapping helps: an idmap writes as the directory's owner, whose files (root's, in /tmp)
 * every sandbox granted the directory would own. So such a grant is refused.
 */
function sharedGrant(paths: readonly string[], workload: SandboxUser): OacpError<NativeErrorCode> {
  return new OacpError<NativeErrorCode>(
    'AIRLOCK_BAD_SPEC',
    `every account may write ${paths.join(', ')}, so the files this sandbox leaves there would belong on the host to its workload uid ${workload.uid}, which a later sandbox may get and so read, change or delete them; grant a directory of its own instead (mkdir -m 700 DIR, --allow-files DIR:rw; manifest: capabilities.file_write): what it writes there lands as that directory's owner, or grant ${paths.join(', ')} read-only`,
  );
}

function within(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith('/') ? root : `${root}/`);
}

/**
 * The workload's identity. Not root: the invoker. Root: the dedicated
 * WORKLOAD_ID, never host root; each bound path that id cannot use is
 * idmapped (its owner's files appear as the workload's, and files it creates
 * land on disk as that owner, with nosuid and nodev; the seccomp filter
 * refuses set-id modes). A path whose owner could not use it either is
 * refused by name. Without idmapped mounts on this host such a grant is a
 * refusal unless `identity` is in `quotas.allow_unenforced`, which keeps the
 * old rule (the grants' owner, see workloadIdentity).
 */
export function resolveIdentity(input: IdentityInput): Identity {
  const identity = chooseIdentity(input);
  // Both confined tiers come through here: whichever way the identity was chosen, no grant may
  // let the workload write a system directory as host root (system-writes.ts).
  // An account that cannot be told counts as root (fail closed).
  const invoker: SandboxUser = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  refuseSystemWrites(
    input.mounts,
    (index) => identity.idmaps.find((each) => each.index === index)?.owner ?? identity.user ?? invoker,
  );
  return identity;
}

function chooseIdentity(input: IdentityInput): Identity {
  const { requested, mounts, executable, parents } = input;
  if (requested === 'invoker') return { user: undefined, idmaps: [] };
  if (requested !== undefined) {
    // A leased id's next sandbox kills whatever runs as it (launcher --reclaim): never an explicit account.
    if (requested.uid !== WORKLOAD_ID && isWorkloadId(requested.uid))
      throw new OacpError<NativeErrorCode>(
        'AIRLOCK_BAD_SPEC',
        `runAs uid ${requested.uid} is one of the workload ids OACP leases to sandboxes (${WORKLOAD_ID + 1}-${WORKLOAD_ID + WORKLOAD_ID_COUNT}): give runAs another uid`,
      );
    checkAccess(mounts, executable, requested, parents);
    return { user: requested, idmaps: [] };
  }
  if (process.getuid?.() !== 0) return { user: undefined, idmaps: [] };
  // Every id of the range owns nothing (doctor), so access is the same for all of them.
  const workload = input.workload ?? WORKLOAD_USER;
  const idmaps: IdmappedMount[] = [];
  const denied: string[] = [];
  const shared: string[] = [];
  mounts.forEach((mount, index) => {
    const mode = mount.writable ? 'write' : 'read';
    if (accessibleBy(mount.source, workload, mode, parents)) {
      if (mount.writable && !isFile(mount.source)) shared.push(mount.source);
      return;
    }
    const owner = ownerOf(mount.source);
    if (isWorkloadId(owner.uid) || !accessibleBy(mount.source, owner, mode, false))
      denied.push(`${mount.source} (${mode})`);
    else idmaps.push({ index, owner });
  });
  const idmapped = (path: string): boolean =>
    idmaps.some(({ index, owner }) => {
      const source = mounts[index]?.source;
      return source !== undefined && within(path, source) && accessibleBy(path, owner, 'execute', false);
    });
  if (!accessibleBy(executable, workload, 'execute', parents) && !idmapped(executable))
    denied.push(`${executable} (execute)`);
  if (shared.length > 0) throw sharedGrant(shared, workload);
  if (denied.length > 0) {
    throw new OacpError<NativeErrorCode>(
      'AIRLOCK_BAD_SPEC',
      `this sandbox runs as the dedicated uid ${workload.uid} and neither it nor the owner of these paths may use them: ${denied.join(', ')}; fix their modes (chmod) or grant other paths`,
    );
  }
  const unsupported = idmaps.filter(({ index }) => !input.idmap(index));
  if (unsupported.length === 0) return { user: workload, idmaps };
  if (!input.quotas.allow_unenforced.includes('identity')) {
    const paths = unsupported.map(({ index }) => mounts[index]?.source).join(', ');
    throw new OacpError<NativeErrorCode>(
      'AIRLOCK_BAD_SPEC',
      `this host cannot make idmapped mounts there (kernel or filesystem; see oacp doctor), so the dedicated sandbox uid ${workload.uid} cannot use ${paths}; ` +
        `grant paths it can use, or accept the fallback (${IDENTITY_FALLBACK}) with --allow-unenforced identity (manifest: quotas.allow_unenforced: [identity])`,
    );
  }
  const user = workloadIdentity(undefined, mounts);
  if (user !== undefined) checkAccess(mounts, executable, user, parents);
  return { user, idmaps: [] };
}
