import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { CLI, isRoot } from './confine-harness.js';

/**
 * Issue 9 (round 2, item 2): a workload never outlives the OACP process that
 * started it. The attack: a real `oacp run` whose workload forks a child and
 * a grandchild, then kill -9 of `oacp` itself (no handler runs). The
 * assertion: every process of the workload is gone, in every tier.
 * Round 3: the workload also starts a setsid() escapee (its own session and
 * group) whose parent exits at once, so it is orphaned out of the workload's
 * process tree; the light tier has no cgroup or pid namespace to catch it,
 * only the launcher's guard (a child subreaper that inherits every orphan).
 */
const available = {
  light: true,
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};
const home = mkdtempSync(join(tmpdir(), 'oacp-orphans-'));
// As root, bwrap runs as the dedicated workload id and must reach the per-sandbox files under TMPDIR.
chmodSync(home, 0o711);
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** Host pids whose command line contains `marker` (gVisor: its runsc processes name their state under TMPDIR). */
function withMarker(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) pids.push(Number(entry));
    } catch {
      // Gone between listing and reading.
    }
  }
  return pids;
}

async function until(check: () => boolean, tries = 200): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

describe.skipIf(!existsSync(CLI))('a workload dies with the oacp process that started it', () => {
  for (const tier of ['light', 'hardened', 'gvisor'] as const) {
    it.skipIf(!available[tier])(
      `${tier}: kill -9 of oacp ends the workload and its children`,
      { timeout: 60_000 },
      async () => {
        // A number sleep(1) accepts and no other process on the host has on its command line.
        const marker = `${4000 + Math.floor(Math.random() * 1000)}.${randomUUID().replace(/\D/g, '').slice(0, 8)}`;
        // A grandchild (sh -> sh -> sleep) and a child; CPU-free so the test stays cheap on a shared machine.
        const nested = `/bin/sleep ${marker}; :`;
        const work = mkdtempSync(join(home, `tmp-${marker}-`));
        chmodSync(work, 0o711);
        // setsid(2) in a child that exits at once: the sleep is orphaned in a session of its own.
        const escapee = `/usr/bin/setsid /bin/sh -c "/bin/sleep ${marker} & exit 0"`;
        const script = `/bin/sh -c '${nested}' & /bin/sleep ${marker} & ${escapee}; echo ready; wait`;
        const oacp = spawn(
          process.execPath,
          [
            CLI,
            'run',
            '--no-receipt',
            '--tier',
            tier,
            ...(isRoot ? [] : ['--allow-unenforced', 'memory,pids,cpu,disk_io']),
            '--',
            '/bin/sh',
            '-c',
            script,
          ],
          {
            stdio: ['pipe', 'pipe', 'pipe'],
            env: { PATH: '/usr/bin:/bin', OACP_HOME: join(home, tier), TMPDIR: work },
          },
        );
        let out = '';
        oacp.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
        });
        oacp.stderr.on('data', (chunk: Buffer) => {
          out += chunk.toString();
        });
        try {
          const started = await until(() => out.includes('ready') && withMarker(marker).length >= 3, 600);
          expect([started, out]).toEqual([true, expect.stringContaining('ready')]);
          oacp.kill('SIGKILL');
          const gone = await until(() => withMarker(marker).length === 0);
          expect([tier, gone, withMarker(marker)]).toEqual([tier, true, []]);
        } finally {
          for (const pid of withMarker(marker)) process.kill(pid, 'SIGKILL');
          oacp.kill('SIGKILL');
        }
      },
    );
  }
});
