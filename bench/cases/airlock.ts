import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { newQuickJSWASMModule } from 'quickjs-emscripten';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { accountOacpHomes } from '../../src/airlock/native/protected-paths.js';
import { grantManifest, sampleSpawns, timeBareSpawn, timeTierSpawn } from '../../src/airlock/spawn-bench.js';
import { benchIdleSandboxes } from '../../src/airlock/wasm/bench.js';
import { type BenchCase, cpuMs, figure, percentile } from '../harness.js';

const IDLE = 10_000;
const RAW = 2_000;

/** Standard-tier sandboxes against bare QuickJS runtime+context creation on one WASM module. */
const standardCase: BenchCase = {
  id: 'standard-tier',
  title: `standard tier: create time and memory of ${IDLE} concurrent idle sandboxes`,
  async run(report) {
    report(`baseline: ${RAW} bare QuickJS runtimes+contexts on one module`);
    const module = await newQuickJSWASMModule();
    const rawTimes: number[] = [];
    const rssBefore = process.memoryUsage().rss;
    const raws = [];
    for (let i = 0; i < RAW; i++) {
      const started = performance.now();
      const runtime = module.newRuntime();
      raws.push({ runtime, context: runtime.newContext() });
      rawTimes.push(performance.now() - started);
    }
    const rawRss = (process.memoryUsage().rss - rssBefore) / RAW;
    for (const { runtime, context } of raws) {
      context.dispose();
      runtime.dispose();
    }
    report(`subject: ${IDLE} idle standard-tier sandboxes (memory_mb 4)`);
    const result = await benchIdleSandboxes({ count: IDLE, memoryMb: 4 });
    await result.stop();
    return [
      figure({
        case: 'standard-tier',
        metric: 'create p50',
        unit: 'ms',
        subject: result.createMsP50,
        baselineName: 'bare QuickJS runtime + context',
        baseline: percentile(rawTimes, 50),
        goal: { op: '<=', value: 1 },
      }),
      figure({
        case: 'standard-tier',
        metric: 'memory per idle sandbox (RSS)',
        unit: 'KiB',
        subject: result.rssBytesPerSandbox / 1024,
        baselineName: 'bare QuickJS runtime + context',
        baseline: rawRss / 1024,
        goal: { op: '<=', value: 256 },
      }),
      figure({
        case: 'standard-tier',
        metric: 'concurrent idle sandboxes in one process',
        unit: 'sandboxes',
        subject: result.count,
        baselineName: 'bare QuickJS runtimes created',
        baseline: RAW,
        goal: { op: '>=', value: 10_000 },
        note: `${result.modules} WASM modules; run('1 + 1') p50 ${result.runMsP50.toFixed(3)} ms`,
      }),
    ];
  },
};

const SPAWNS = 40;
/** Directories in the wide grant of the process-tiers case (each with a file and a subdirectory). */
const WIDE_GRANT_DIRS = 1000;
/** p50 wall times and mean CPU per start of `count` sequential samples. */
async function sampleWithCpu(
  time: () => Promise<number>,
  count: number,
): Promise<{ wall: number[]; cpu: number }> {
  const before = cpuMs();
  const wall = await sampleSpawns(time, count);
  return { wall, cpu: (cpuMs() - before) / count };
}

function load(): string {
  return `load average ${loadavg()
    .map((value) => value.toFixed(1))
    .join(' ')} (2 cores shared by seven sessions)`;
}

/** Hardened and gVisor start-to-exit of /usr/bin/true against a bare spawn, sampled in the same run. */
const spawnCase: BenchCase = {
  id: 'process-tiers',
  title: 'hardened and gvisor start overhead over a bare spawn',
  async run(report) {
    const figures = [];
    const hardened = new HardenedTier();
    const gvisor = new GvisorTier();
    if ((await hardened.availability()).available) {
      report(`${SPAWNS} bare and ${SPAWNS} hardened spawns, interleaved`);
      await timeTierSpawn(hardened);
      const bareRun = await sampleWithCpu(timeBareSpawn, SPAWNS);
      const tierRun = await sampleWithCpu(() => timeTierSpawn(hardened), SPAWNS);
      const bare = bareRun.wall;
      const tier = tierRun.wall;
      const bareP50 = percentile(bare, 50);
      figures.push(
        figure({
          case: 'process-tiers',
          metric: 'hardened overhead over bare spawn, p50',
          unit: 'ms',
          subject: percentile(tier, 50) - bareP50,
          baselineName: 'bare spawn of /usr/bin/true',
          baseline: bareP50,
          goal: { op: '<=', value: 5 },
          note: `${load()}; wall time under that load is mostly waiting for a core`,
        }),
        figure({
          case: 'process-tiers',
          metric: 'hardened CPU per start (OACP and every process of the sandbox), mean',
          unit: 'ms',
          subject: tierRun.cpu,
          baselineName: 'bare spawn of /usr/bin/true',
          baseline: bareRun.cpu,
          note: 'utime+stime of this process and its reaped children (/proc/self/stat, 10 ms ticks over 40 starts): less sensitive to load than wall time',
        }),
      );
      // A start that binds a path (every MCP server's does: its package) also checks it against every
      // account's and every registered OACP home; the start above binds nothing and skips that read.
      const grant = mkdtempSync(join(tmpdir(), 'oacp-bench-grant-'));
      try {
        const manifest = grantManifest(grant);
        report(`${SPAWNS} hardened spawns with one read grant`);
        const granted = await sampleSpawns(() => timeTierSpawn(hardened, manifest), SPAWNS);
        figures.push(
          figure({
            case: 'process-tiers',
            metric: 'hardened overhead over bare spawn, one read grant, p50',
            unit: 'ms',
            subject: percentile(granted, 50) - bareP50,
            baselineName: 'bare spawn of /usr/bin/true',
            baseline: bareP50,
            note: `${load()}; the grant is checked against the ${accountOacpHomes().length} OACP home names (account and registered) found on this host`,
          }),
        );
        // A project-sized grant: the look below a grant for an unregistered home reads up to two levels of it.
        for (let dir = 0; dir < WIDE_GRANT_DIRS; dir++) {
          mkdirSync(join(grant, `d${dir}`, 'sub'), { recursive: true });
          writeFileSync(join(grant, `d${dir}`, 'file'), '');
        }
        report(`${SPAWNS} hardened spawns with one read grant of ${WIDE_GRANT_DIRS} directories`);
        const wide = await sampleWithCpu(() => timeTierSpawn(hardened, manifest), SPAWNS);
        figures.push(
          figure({
            case: 'process-tiers',
            metric: `hardened CPU per start, one read grant of ${WIDE_GRANT_DIRS} directories, mean`,
            unit: 'ms',
            subject: wide.cpu,
            baselineName: 'hardened CPU per start, no grant',
            baseline: tierRun.cpu,
            note: `${load()}; each directory holds a file and a subdirectory; utime+stime as above`,
          }),
        );
      } finally {
        rmSync(grant, { recursive: true, force: true });
      }
    } else report('hardened tier unavailable: skipped');
    if ((await gvisor.availability()).available) {
      report('10 gvisor starts');
      const bare = await sampleSpawns(timeBareSpawn, 10);
      const tier = await sampleSpawns(() => timeTierSpawn(gvisor), 10);
      figures.push(
        figure({
          case: 'process-tiers',
          metric: 'gvisor start to exit, p50',
          unit: 'ms',
          subject: percentile(tier, 50),
          baselineName: 'bare spawn of /usr/bin/true',
          baseline: percentile(bare, 50),
          goal: { op: '<=', value: 300 },
          note: load(),
        }),
      );
    } else report('gvisor tier unavailable: skipped');
    return figures;
  },
};

export const airlockCases: BenchCase[] = [standardCase, spawnCase];
