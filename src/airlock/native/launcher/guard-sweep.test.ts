import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildLauncher } from './build.js';

/** Whether a process still runs (a zombie waiting for its reaper does not). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Running processes with `argument` on their command line. */
function withArgument(argument: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(argument) && running(pid);
      } catch {
        return false;
      }
    });
}

/** Runs the launcher as a guard (no cgroup: the sweep's long form) over `script`; its exit code. */
function guarded(script: string): Promise<number | null> {
  const child = spawn(buildLauncher(), ['--guard', '3', '--', '/bin/sh', '-c', script], {
    stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/**
 * The guard's sweep waits between passes for what it killed to die, and now wakes as soon as it
 * has no child left rather than a whole interval later. Early only then: a workload that keeps
 * handing it dying orphans (each a SIGCHLD to the guard) must not end the sweep early.
 */
describe('the guard sweep after the workload exits', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-guard-sweep-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('kills what the workload left behind', async () => {
    const pidFile = join(dir, 'left');
    expect(await guarded(`sleep 30 & echo $! > ${pidFile}; exit 0`)).toBe(0);
    expect(running(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
  });

  it('attack: a leftover that keeps orphaning children to the guard (a SIGCHLD each) leaves none running', async () => {
    // Each loop turn hands the guard an orphan (a SIGCHLD when the subshell dies) that would run on.
    const marker = `30.${Date.now() % 1000000}`;
    const script = `setsid sh -c 'while :; do (setsid sleep ${marker} &); done' & sleep 0.2; exit 0`;
    expect(await guarded(script)).toBe(0);
    // A sleep killed by the last pass dies when the kernel next runs it, later on a loaded host; one the
    // sweep missed runs 30 s, long past this bound, and so does the loop that would make more.
    await expect.poll(() => withArgument(marker), { timeout: 10_000 }).toEqual([]);
  });
});
