import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detectCgroupHost } from '../../src/airlock/cgroups/index.js';
import { createSandboxCgroup } from '../../src/airlock/cgroups/sandbox-cgroup.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { supervise } from '../../src/airlock/native/supervisor.js';
import type { LimitNotice } from '../../src/airlock/sandbox.js';
import { manifest, PYTHON } from '../escape/native-harness.js';

/**
 * A program refused a thread at the pids limit often does not exit: Chromium
 * waited 110 s at the default max_pids of 128, and the message naming the
 * field came only with its failed exit. The sandbox says so while the
 * workload still runs. In the hardened tier the refusal is RLIMIT_NPROC's
 * (it binds before the pids cgroup, whose `pids.events` the kernel would
 * count): the tree's tasks reaching it is told. Here: threads past
 * max_pids 16, then a sleep, as a stalled browser would.
 */
const host = detectCgroupHost();
const hardened = new HardenedTier({ pollMs: 25 });
// RLIMIT_NPROC, not the pids cgroup: as uid 1000 on cgroup v1 (no pids controller) too.
const AS_ROOT = process.getuid?.() === 0;
const ok = (await hardened.availability()).available && existsSync(PYTHON);

const THREADS_THEN_SLEEP = `
import threading, time, sys
started = 0
try:
    for i in range(64):
        threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
        started += 1
except RuntimeError as error:
    print("refused after", started, error, flush=True)
time.sleep(600)
`;

describe.skipIf(!ok)('a task refused at the pids limit, by a workload that does not exit', () => {
  it('is told while the workload still runs, naming quotas.max_pids', async () => {
    const sandbox = await hardened.start({
      command: PYTHON,
      args: ['-c', THREADS_THEN_SLEEP],
      // As uid 1000 on v1: RLIMIT_NPROC and the polled count stand in for the controllers.
      manifest: manifest(
        {},
        { max_pids: 16 },
        AS_ROOT ? {} : { allow_unenforced: ['memory', 'pids', 'cpu'] },
      ),
      env: {},
    });
    let exited = false;
    void sandbox.exit.then(() => {
      exited = true;
    });
    let out = '';
    sandbox.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    sandbox.stdin.end();
    try {
      const notice = (await sandbox.limitNotice) as LimitNotice;
      expect(exited).toBe(false);
      expect(notice.limit).toBe('pids');
      expect(notice.detail).toMatch(
        /limit of 16 processes.*a new one is refused.*raise with quotas\.max_pids/,
      );
    } finally {
      await sandbox.stop();
    }
    expect(out).toMatch(/refused after/);
  }, 60_000);
});

/** Forks past the cgroup's limit, copes with the refusal (EAGAIN), then waits as a stalled server would. */
const FORKS_THEN_SLEEP = `
import os, time
for i in range(20):
    try:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
    except OSError:
        pass
print("waiting", flush=True)
time.sleep(600)
`;

describe.skipIf(!host.pids.available || !existsSync(PYTHON))(
  'a fork the pids cgroup refuses (pids.events)',
  () => {
    it('is told while the workload still runs, naming quotas.max_pids', async () => {
      const cgroup = createSandboxCgroup(host, `compat-pids-stall-${randomUUID()}`, { pids: 4 });
      const script = `echo $$ > ${cgroup.procsFiles[0]} && exec ${PYTHON} -c "$0"`;
      const child = spawn('/bin/sh', ['-c', script, FORKS_THEN_SLEEP], { detached: true, stdio: 'pipe' });
      const limits = { outputBytes: 1 << 20, cpuBusyMs: 10_000, maxProcesses: 4, pollMs: 25 };
      const sandbox = supervise({ id: 'pids-stall', tier: 'gvisor', child, limits, meter: cgroup });
      let exited = false;
      void sandbox.exit.then(() => {
        exited = true;
      });
      try {
        const notice = (await sandbox.limitNotice) as LimitNotice;
        expect(exited).toBe(false);
        expect(cgroup.forksRefused()).toBeGreaterThan(0);
        expect(notice).toEqual({
          limit: 'pids',
          detail: expect.stringMatching(
            /kernel refused a new process or thread at the limit of 4 .*quotas\.max_pids/,
          ),
        });
      } finally {
        await sandbox.stop();
        await cgroup.remove();
      }
    }, 60_000);
  },
);
