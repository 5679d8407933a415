import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

/** The launcher's guard end of a sandbox (see launcher/source.ts, --guard). */
export interface OrphanGuard {
  /** The sandbox ended normally (the guard exited with it): this side of the pipe is closed. */
  release(): void;
}

/**
 * Every tier's workload dies with the OACP process that started it, kill -9
 * included. The process OACP spawns is the launcher's guard (`--guard FD`):
 * it forks the sandbox and stays outside it, a child subreaper outside the
 * workload's process group and cgroup, reading a pipe whose only other end is
 * this one (close-on-exec, in this process only). When this process dies the
 * kernel closes it, the guard reads end of file and kills the workload's
 * group, every descendant (a setsid() escapee is reparented to the guard) and
 * every process in the sandbox's cgroup. Nothing polls.
 *
 * `index` is the stdio slot spawnWorkload() gave the pipe.
 */
export function guardPipe(child: ChildProcess, index: number): OrphanGuard {
  const end = child.stdio[index] as Socket | null | undefined;
  end?.on('error', () => undefined);
  // The pipe never keeps this process alive.
  end?.unref?.();
  let released = false;
  return {
    release: () => {
      if (released) return;
      released = true;
      end?.destroy();
    },
  };
}
