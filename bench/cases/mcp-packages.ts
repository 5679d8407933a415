import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
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

/**
 * A cpuacct cgroup (cgroup v1, root) the started command joins before it
 * execs: its usage counts every process of the tree while it runs, including
 * the sandbox's processes that are killed at stop and reaped by init (the
 * reaped-children count of this process misses those). OACP's own cgroups
 * use other controllers, so the tree never leaves this one. Null where the
 * host has no writable cpuacct hierarchy: then the reaped-children count is
 * used and the note says it undercounts.
 */
function cpuacctGroup(): string | null {
  const root = '/sys/fs/cgroup/cpuacct';
  if (!existsSync(join(root, 'cpuacct.usage'))) return null;
  const dir = join(root, `oacp-bench-${process.pid}`);
  try {
    mkdirSync(dir);
    return dir;
  } catch {
    return null;
  }
}

const usageMs = (group: string): number =>
  Number(readFileSync(join(group, 'cpuacct.usage'), 'utf8').trim()) / 1e6;

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
async function toFirstList(
  command: string,
  args: string[],
  group: string | null,
): Promise<{ wall: number; cpu: number }> {
  const cpuBefore = group === null ? cpuMs('children') : usageMs(group);
  const start = performance.now();
  const client = new Client({ name: 'bench', version: '1' });
  // The shell joins the group and execs the command: one more exec in both
  // the direct and the bridged start, inside the timed region of each.
  const transport =
    group === null
      ? new StdioClientTransport({ command, args, stderr: 'ignore' })
      : new StdioClientTransport({
          command: '/bin/sh',
          args: ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', group, command, ...args],
          stderr: 'ignore',
        });
  await client.connect(transport);
  await client.listTools();
  const wall = performance.now() - start;
  const pid = transport.pid;
  await client.close();
  await reaped(pid);
  if (group === null) return { wall, cpu: cpuMs('children') - cpuBefore };
  // The sandbox's processes end after oacp: wait until the group is empty.
  for (let tries = 0; tries < 400; tries++) {
    if (readFileSync(join(group, 'cgroup.procs'), 'utf8').trim() === '') break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return { wall, cpu: usageMs(group) - cpuBefore };
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
    const group = cpuacctGroup();
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const alone = await toFirstList(command, [script], group);
        direct.push(alone.wall);
        directCpu.push(alone.cpu);
        const through = await toFirstList(
          process.execPath,
          [MAIN, '--home', home, 'mcp', 'run', `npm:${PACKAGE}`],
          group,
        );
        bridged.push(through.wall);
        bridgedCpu.push(through.cpu);
      }
    } finally {
      if (group !== null) rmdirSync(group);
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
        note: `${group === null ? 'utime+stime of the reaped tree (no writable cpuacct cgroup here: undercounts, the sandbox killed at stop is reaped by init, not counted)' : 'cpuacct usage of a cgroup the started tree joins (oacp, launcher, bwrap, the sandboxed server, whoever reaps them)'}, ${ROUNDS} rounds, load average ${load}: less sensitive to load than wall time`,
      }),
    ];
  },
};

export const mcpPackageCases: BenchCase[] = [storeStartCase];
