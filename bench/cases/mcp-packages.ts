import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { KeyStore } from '../../src/identity/keystore.js';
import { acquirePackage } from '../../src/mcp/packages/acquire.js';
import { binCommand } from '../../src/mcp/packages/bin.js';
import { hostNpm } from '../../src/mcp/packages/npm-cli.js';
import { PackageStore } from '../../src/mcp/packages/store.js';
import { writeNodeConfig } from '../../src/node/node-config.js';
import { type BenchCase, cpuMs, figure, percentile } from '../harness.js';

const PACKAGE = '@modelcontextprotocol/server-memory';
const ROUNDS = 5;
const MAIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

/** Resolves once `pid` is gone (exited and reaped, so its CPU is in this process's children's). */
async function reaped(pid: number | null): Promise<void> {
  while (pid !== null) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Milliseconds from spawning `command` to the answer of the first tools/list,
 * and the CPU the started process tree used from start to exit (oacp, the
 * launcher, bwrap and the server are each reaped by their parent).
 */
async function toFirstList(command: string, args: string[]): Promise<{ wall: number; cpu: number }> {
  const cpuBefore = cpuMs('children');
  const start = performance.now();
  const client = new Client({ name: 'bench', version: '1' });
  const transport = new StdioClientTransport({ command, args, stderr: 'ignore' });
  await client.connect(transport);
  await client.listTools();
  const wall = performance.now() - start;
  const pid = transport.pid;
  await client.close();
  await reaped(pid);
  return { wall, cpu: cpuMs('children') - cpuBefore };
}

const mean = (values: readonly number[]): number =>
  values.reduce((sum, value) => sum + value, 0) / values.length;

/**
 * `oacp mcp run npm:<pkg>` with the package already in the store (re-digested,
 * started in the hardened tier, bridged) to the first tools/list, beside
 * starting the same installed server directly with node.
 */
const storeStartCase: BenchCase = {
  id: 'mcp-package-start',
  title:
    'oacp mcp run npm:<package> (already in the store) to the first tools/list, beside the server started directly',
  async run(report) {
    const home = mkdtempSync(join(tmpdir(), 'oacp-bench-pkg-'));
    await KeyStore.init(home, { env: {} });
    writeNodeConfig(home, { version: 1, origin: 'bench.oacp.invalid/packages' });
    const stored = await acquirePackage(new PackageStore(home, hostNpm()), { name: PACKAGE }, report);
    const { command, script } = binCommand(stored);
    const direct: number[] = [];
    const bridged: number[] = [];
    const directCpu: number[] = [];
    const bridgedCpu: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const alone = await toFirstList(command, [script]);
      direct.push(alone.wall);
      directCpu.push(alone.cpu);
      const through = await toFirstList(process.execPath, [
        MAIN,
        '--home',
        home,
        'mcp',
        'run',
        `npm:${PACKAGE}`,
      ]);
      bridged.push(through.wall);
      bridgedCpu.push(through.cpu);
    }
    report(
      `direct p50 ${percentile(direct, 50).toFixed(0)} ms (CPU ${mean(directCpu).toFixed(0)} ms), through oacp ${percentile(bridged, 50).toFixed(0)} ms (CPU ${mean(bridgedCpu).toFixed(0)} ms)`,
    );
    const load = loadavg()
      .map((value) => value.toFixed(2))
      .join(' ');
    return [
      figure({
        case: 'mcp-package-start',
        metric: 'start to first tools/list p50',
        unit: 'ms',
        subject: percentile(bridged, 50),
        baselineName: 'node <installed server> directly',
        baseline: percentile(direct, 50),
        note: `${PACKAGE}, ${ROUNDS} rounds, ${new Date().toISOString()}, load average ${load}; oacp checks the stored tree (by its stamp), starts the hardened tier and bridges with receipts; goal 1.5x`,
      }),
      figure({
        case: 'mcp-package-start',
        metric: 'CPU per start, whole process tree, start to exit, mean',
        unit: 'ms',
        subject: mean(bridgedCpu),
        baselineName: 'node <installed server> directly',
        baseline: mean(directCpu),
        note: `utime+stime of the reaped tree (oacp, launcher, bwrap, server; 10 ms ticks), ${ROUNDS} rounds, load average ${load}: less sensitive to load than wall time`,
      }),
    ];
  },
};

export const mcpPackageCases: BenchCase[] = [storeStartCase];
