import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { OacpError } from '../../core/errors.js';
import type { NativeErrorCode } from './errors.js';
import type { Mount } from './mount-plan.js';

/** The host account a confined sandbox runs as. */
export interface SandboxUser {
  readonly uid: number;
  readonly gid: number;
}

/** nobody:nogroup on Debian and most distributions. */
export const NOBODY: SandboxUser = { uid: 65534, gid: 65534 };

/** The account the availability probe runs bwrap as: nobody when OACP is root, else the invoker. */
export function sandboxUser(requested: SandboxUser | 'invoker' | undefined): SandboxUser | undefined {
  if (requested === 'invoker') return undefined;
  if (requested !== undefined) return requested;
  return process.getuid?.() === 0 ? NOBODY : undefined;
}

const MODE_BITS = { read: 4, write: 2, execute: 1 } as const;

/**
 * Whether `user` (no supplementary groups, no capabilities) may use `path` in
 * `mode`; with `parents`, every parent directory must be searchable too
 * (bwrap resolves a bound descriptor's path as that user; runsc's launcher
 * stages descriptors as root, so the gVisor tier checks the object only).
 */
export function accessibleBy(
  path: string,
  user: SandboxUser,
  mode: keyof typeof MODE_BITS,
  parents = true,
): boolean {
  const allowed = (target: string, bit: number): boolean => {
    const stat = statSync(target);
    const shift = stat.uid === user.uid ? 6 : stat.gid === user.gid ? 3 : 0;
    return ((stat.mode >> shift) & bit) !== 0;
  };
  try {
    for (let dir = dirname(path); parents; dir = dirname(dir)) {
      if (!allowed(dir, MODE_BITS.execute)) return false;
      if (dir === '/') break;
    }
    return (
      allowed(path, MODE_BITS[mode]) && (!statSync(path).isDirectory() || allowed(path, MODE_BITS.execute))
    );
  } catch {
    return false;
  }
}

/**
 * The fallback identity (`--allow-unenforced identity`, hosts without
 * idmapped mounts; normally see identity.ts) of a workload when OACP runs as
 * root: the owner of its grants, so a root operator's private (0700) directory works read/write
 * while the workload holds no capability in any namespace (it is that uid and
 * nothing more: DAC as that user, no CAP_DAC_OVERRIDE, no CAP_FOWNER). The
 * owner of the writable grants wins, else of the first read grant, else of
 * the program's own files (implicit paths); nobody when nothing is bound
 * (a system program). Writable grants owned by different users are refused:
 * one sandbox has one identity. Not root: undefined (the invoker).
 */
export function workloadIdentity(
  requested: SandboxUser | 'invoker' | undefined,
  mounts: readonly Mount[],
): SandboxUser | undefined {
  if (requested === 'invoker') return undefined;
  if (requested !== undefined) return requested;
  if (process.getuid?.() !== 0) return undefined;
  const explicit = mounts.filter((mount) => mount.implicit !== true);
  const writable = explicit.filter((mount) => mount.writable);
  const owners = new Map<number, { uid: number; gid: number; path: string }>();
  // Without grants, the owner of the program's own files (its executable, its package).
  const decisive =
    writable.length > 0 ? writable : explicit.length > 0 ? explicit.slice(0, 1) : mounts.slice(0, 1);
  for (const mount of decisive) {
    const stat = statSync(mount.source);
    if (!owners.has(stat.uid)) owners.set(stat.uid, { uid: stat.uid, gid: stat.gid, path: mount.source });
  }
  const [first, ...others] = [...owners.values()];
  if (first === undefined) return NOBODY;
  if (others.length > 0) {
    const list = [first, ...others].map((owner) => `${owner.path} (uid ${owner.uid})`).join(', ');
    throw new OacpError<NativeErrorCode>(
      'AIRLOCK_BAD_SPEC',
      `writable grants belong to different users: ${list}; a sandbox runs as the one owner of its writable grants, so grant directories of one owner (or start one sandbox per owner)`,
    );
  }
  return { uid: first.uid, gid: first.gid };
}

/** Refuses a plan whose sources the sandbox user could not use, naming the path and the fix. */
export function checkAccess(
  mounts: readonly Mount[],
  executable: string,
  user: SandboxUser,
  parents = true,
): void {
  const problems: string[] = [];
  if (!accessibleBy(executable, user, 'execute', parents)) problems.push(`${executable} (execute)`);
  for (const mount of mounts) {
    const mode = mount.writable ? 'write' : 'read';
    if (!accessibleBy(mount.source, user, mode, parents)) problems.push(`${mount.source} (${mode})`);
  }
  if (problems.length > 0) {
    throw new OacpError<NativeErrorCode>(
      'AIRLOCK_BAD_SPEC',
      `this sandbox runs as uid ${user.uid} (the owner of its grants) and that user cannot use: ${problems.join(', ')}; ` +
        'make these paths accessible to it (chmod/chown) or grant them in a separate sandbox',
    );
  }
}
