import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detectCgroupHost } from '../../src/airlock/cgroups/index.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { manifest } from './native-harness.js';

/**
 * The launcher joins a v1 hierarchy through its `tasks` file ("0": the
 * calling thread, the whole of the single-threaded launcher), which spares
 * every start an RCU grace period. The workload must still be in the
 * sandbox's cgroup in every hierarchy before it runs: checked here from the
 * host, on the workload's own /proc entry, for each controller in use.
 */
const host = detectCgroupHost();
const kernel = host.memory.available && host.pids.available && host.cpu.available;
const tier = new HardenedTier({ pollMs: 25 });
const ok = (await tier.availability()).available;

/** Pids whose command line is exactly `argv`. */
function processesRunning(argv: readonly string[]): number[] {
  const wanted = `${argv.join('\0')}\0`;
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === wanted;
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe.skipIf(!kernel || !ok)('hardened tier: joining the sandbox cgroup', () => {
  it('puts the workload in the sandbox cgroup of every controller (memory, pids, cpu) before it runs', async () => {
    // A distinctive argument, so no other sleep on the host is taken for the workload.
    const argv = ['/bin/sleep', `30.${process.pid}`];
    const sandbox = await tier.start({ command: argv[0] ?? '', args: argv.slice(1), manifest: manifest() });
    sandbox.stdout.resume();
    sandbox.stderr.resume();
    try {
      let pids: number[] = [];
      for (let attempt = 0; attempt < 200 && pids.length === 0; attempt++) {
        pids = processesRunning(argv);
        if (pids.length === 0) await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(pids).toHaveLength(1);
      const lines = readFileSync(`/proc/${pids[0]}/cgroup`, 'utf8').split('\n');
      const cgroupOf = (controller: string): string | undefined =>
        lines.find((line) => line.split(':')[1]?.split(',').includes(controller));
      for (const controller of ['memory', 'pids', 'cpu']) {
        expect(cgroupOf(controller), controller).toMatch(
          new RegExp(`/oacp-${sandbox.id}\\.${process.pid}\\.\\d+$`),
        );
      }
    } finally {
      await sandbox.stop();
    }
  }, 30_000);
});
