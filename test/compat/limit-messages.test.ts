import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSandboxCgroup, detectCgroupHost } from '../../src/airlock/cgroups/index.js';
import { supervise } from '../../src/airlock/native/supervisor.js';

/**
 * A server that needs more tasks than `max_pids` allows must be told which
 * field lifts the limit. In gVisor the pids cgroup counts runsc's host
 * tasks: launching chromium (the sweep's puppeteer server, as root) passes
 * the limit on the host before the guest's own, and runsc exits 2 without a
 * word. The kernel counts the refusal (`pids.events`), so a failed exit
 * after one names quotas.max_pids. Here: a real pids cgroup of 4 tasks and
 * a shell that forks 20 sleepers into it.
 */
const host = detectCgroupHost();

/** Joins the cgroup, then runs `program` with `sh -c`: the cgroup's count starts at the shell. */
function inCgroup(procsFile: string, program: string): ReturnType<typeof spawn> {
  const script = `echo $$ > ${procsFile} && exec /bin/sh -c "$0"`;
  return spawn('/bin/sh', ['-c', script, program], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** dash stops at "Cannot fork" (exit 2). */
const SHELL_FORKS = 'for i in $(seq 20); do sleep 1 & done; wait';
/** Catches the refusal (EAGAIN) and exits 0. */
const COPING_FORKS = `exec /usr/bin/python3 -c '
import os, time
for i in range(20):
    try:
        if os.fork() == 0:
            time.sleep(1)
            os._exit(0)
    except OSError:
        pass
'`;

const limits = { outputBytes: 1 << 20, cpuBusyMs: 10_000, maxProcesses: 4, pollMs: 25 };

describe.skipIf(!host.pids.available)('limit messages: a task refused at the pids limit', () => {
  it('a failed exit after the kernel refused a fork names quotas.max_pids', async () => {
    const cgroup = createSandboxCgroup(host, `compat-pids-${randomUUID()}`, { pids: 4 });
    try {
      const child = inCgroup(cgroup.procsFiles[0] ?? '', SHELL_FORKS);
      const sandbox = supervise({ id: 'pids', tier: 'hardened', child, limits, meter: cgroup });
      const status = await sandbox.exit;
      expect(cgroup.forksRefused()).toBeGreaterThan(0);
      expect(status.code).not.toBe(0);
      expect(status.killedBy).toBe('pids');
      expect(status.detail).toMatch(/refused a new process or thread .* raise with quotas\.max_pids/);
    } finally {
      await cgroup.remove();
    }
  }, 30_000);

  it('a workload that copes with the refusal and exits 0 is not blamed on the limit', async () => {
    const cgroup = createSandboxCgroup(host, `compat-pids-${randomUUID()}`, { pids: 4 });
    try {
      const child = inCgroup(cgroup.procsFiles[0] ?? '', COPING_FORKS);
      const sandbox = supervise({ id: 'pids', tier: 'hardened', child, limits, meter: cgroup });
      const status = await sandbox.exit;
      expect(cgroup.forksRefused()).toBeGreaterThan(0);
      expect(status).toEqual({ code: 0, signal: null });
    } finally {
      await cgroup.remove();
    }
  }, 30_000);
});
