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

/**
 * Who the workload is on the host. Root is never used: the kernel exempts
 * root's processes from RLIMIT_NPROC even inside a user namespace, so a fork
 * bomb would exhaust the host's pids, and a namespace escape would land as
 * root. Other users run sandboxes as themselves.
 */
export function sandboxUser(requested: SandboxUser | 'invoker' | undefined): SandboxUser | undefined {
  if (requested === 'invoker') return undefined;
  if (requested !== undefined) return requested;
  return process.getuid?.() === 0 ? NOBODY : undefined;
}

const MODE_BITS = { read: 4, write: 2, execute: 1 } as const;

/** Whether `user` (no supplementary groups) may access `path` in `mode`, every parent searchable. */
export function accessibleBy(path: string, user: SandboxUser, mode: keyof typeof MODE_BITS): boolean {
  const allowed = (target: string, bit: number): boolean => {
    const stat = statSync(target);
    const shift = stat.uid === user.uid ? 6 : stat.gid === user.gid ? 3 : 0;
    return ((stat.mode >> shift) & bit) !== 0;
  };
  try {
    for (let dir = dirname(path); ; dir = dirname(dir)) {
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

/** Refuses a plan whose sources the sandbox user could not use, naming the path and the fix. */
export function checkAccess(mounts: readonly Mount[], executable: string, user: SandboxUser): void {
  const problems: string[] = [];
  if (!accessibleBy(executable, user, 'execute')) problems.push(`${executable} (execute)`);
  for (const mount of mounts) {
    const mode = mount.writable ? 'write' : 'read';
    if (!accessibleBy(mount.source, user, mode)) problems.push(`${mount.source} (${mode})`);
  }
  if (problems.length > 0) {
    throw new OacpError<NativeErrorCode>(
      'AIRLOCK_BAD_SPEC',
      `sandboxes run as uid ${user.uid} when OACP runs as root, and that user cannot use: ${problems.join(', ')}; ` +
        'make these paths accessible to it (chmod/chown) or run OACP as a regular user',
    );
  }
}
