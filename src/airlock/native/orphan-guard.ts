import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';

/**
 * Kills the process group PGID, then every process listed in the cgroup.procs
 * files given after it, repeatedly until they are empty (a fork in between is
 * caught on the next pass), when its stdin reaches end of file.
 */
const GUARD_SCRIPT = [
  'read _',
  'pgid=$1; shift',
  '/bin/kill -KILL -- "-$pgid" 2>/dev/null',
  'for pass in 1 2 3 4 5 6 7 8; do',
  '  left=0',
  '  for file in "$@"; do',
  '    while read -r pid; do left=1; kill -KILL "$pid" 2>/dev/null; done < "$file" 2>/dev/null',
  '  done',
  '  [ "$left" = 0 ] && exit 0',
  '  sleep 0.05',
  'done',
].join('\n');

/** A process that kills a sandbox if the OACP process that started it dies, however it dies. */
export interface OrphanGuard {
  /** The sandbox ended normally: the guard goes away without killing anything. */
  release(): void;
}

/**
 * Every tier's workload dies with the OACP process that started it, kill -9
 * included: a small guard process (its own session, outside the sandbox's
 * group and cgroup) holds the read end of a pipe whose only write end is in
 * this process, close-on-exec. The kernel closes it when this process dies,
 * the guard reads end of file and kills the workload's process group and
 * every process in its cgroup (the gVisor sandbox and bwrap's new session
 * leave the group; the cgroup holds them all). Nothing polls.
 */
export function guardOrphans(pgid: number, procsFiles: readonly string[] = []): OrphanGuard {
  const guard: ChildProcess = spawn(
    '/bin/sh',
    ['-c', GUARD_SCRIPT, 'oacp-orphan-guard', String(pgid), ...procsFiles],
    {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
      env: { PATH: '/usr/bin:/bin' },
    },
  );
  guard.on('error', () => undefined);
  guard.stdin?.on('error', () => undefined);
  // Neither the guard nor its pipe keeps this process alive.
  guard.unref();
  (guard.stdin as Socket | null)?.unref?.();
  let released = false;
  return {
    release: () => {
      if (released) return;
      released = true;
      guard.kill('SIGKILL');
      guard.stdin?.destroy();
    },
  };
}
