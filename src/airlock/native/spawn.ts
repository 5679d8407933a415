import { type ChildProcess, spawn } from 'node:child_process';
import { OacpError } from '../../core/errors.js';
import type { NativeErrorCode } from './errors.js';

export interface SpawnRequest {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly cwd?: string;
  /** Host user the child runs as; libuv also drops supplementary groups. */
  readonly user?: { readonly uid: number; readonly gid: number };
  /** Bytes offered to the child on fd 3 (bwrap reads its seccomp program there). */
  readonly fd3?: Buffer;
  /** Open descriptors handed to the child right after fd 3 (or from fd 3 without `fd3`), in order. */
  readonly extraFds?: readonly number[];
  /** A pipe after every other descriptor, for the launcher's orphan guard (see guardFd()). */
  readonly guard?: boolean;
}

/** The descriptor number the child sees the guard pipe on: after stdio, fd 3 and the extra descriptors. */
export function guardFd(request: Pick<SpawnRequest, 'fd3' | 'extraFds'>): number {
  return 3 + (request.fd3 === undefined ? 0 : 1) + (request.extraFds?.length ?? 0);
}

/**
 * Spawns a workload in its own process group with piped stdio and waits until
 * the OS has accepted it, so a missing executable is an error from `start()`
 * rather than an exit status later.
 */
export async function spawnWorkload(request: SpawnRequest): Promise<ChildProcess> {
  const child = spawn(request.command, [...request.args], {
    env: request.env,
    stdio: [
      'pipe',
      'pipe',
      'pipe',
      ...(request.fd3 === undefined ? [] : ['pipe' as const]),
      ...(request.extraFds ?? []),
      ...(request.guard === true ? ['pipe' as const] : []),
    ],
    detached: true,
    ...(request.cwd === undefined ? {} : { cwd: request.cwd }),
    ...(request.user === undefined ? {} : { uid: request.user.uid, gid: request.user.gid }),
  });
  // A workload that exits before reading its input must not crash the host with EPIPE.
  child.stdin?.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) =>
      reject(
        new OacpError<NativeErrorCode>(
          'AIRLOCK_SPAWN_FAILED',
          `cannot start ${request.command}: ${error.message}`,
          { cause: error },
        ),
      ),
    );
  });
  const fd3 = child.stdio[3];
  if (request.fd3 !== undefined && fd3 !== undefined && fd3 !== null && 'end' in fd3) {
    fd3.on('error', () => undefined);
    fd3.end(request.fd3);
  }
  return child;
}
