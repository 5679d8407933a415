import type { ChildProcess } from 'node:child_process';

/**
 * Resolves once the workload's stdout and stderr have closed, or once they
 * have been quiet for `quietMs` of a loop that could read them. A quiet
 * window is judged only after a loop turn that read whatever was readable
 * (setImmediate runs after the poll phase): an event loop stalled past the
 * window right after the exit, or a reader draining slowly, still gets the
 * output written before the exit; a window in which `received()` (bytes read
 * from the workload) grew starts another. A descendant outside the killed
 * tree that holds the pipes open delays this by one quiet window, or, if it
 * keeps writing, by at most `windows` of them.
 */
export function stdioDrained(
  child: ChildProcess,
  received: () => number,
  quietMs = 1_000,
  windows = 5,
): Promise<void> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let seen = received();
    let left = windows;
    const done = (): void => {
      clearTimeout(timer);
      child.off('close', done);
      resolve();
    };
    const judge = (): void => {
      setImmediate(() => {
        const now = received();
        left -= 1;
        if (now === seen || left <= 0) return done();
        seen = now;
        arm();
      });
    };
    const arm = (): void => {
      timer = setTimeout(judge, quietMs);
      timer.unref();
    };
    child.once('close', done);
    arm();
  });
}
