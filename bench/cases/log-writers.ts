import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildStatement, signReceiptAsync } from '../../src/attest/receipt.js';
import { TOOL_CALL_PREDICATE_TYPE } from '../../src/attest/tool-call.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { toolCallPredicate } from '../../test/attest/fixtures.js';
import { type BenchCase, type Figure, figure } from '../harness.js';

const REPO = join(import.meta.dirname, '..', '..');
const VITE_NODE = join(REPO, 'node_modules', 'vite-node', 'vite-node.mjs');
const CHILD = join(import.meta.dirname, 'log-writer-child.ts');
const TOTAL = 32_000;
/**
 * Receipts each writer appends untimed before the run (see log-writer-child.ts). With 1,000, a
 * CPU profile of an 8-writer run still showed about 19% of all CPU in V8's optimizing compiler
 * (eight fresh processes, each on a quarter of a core); with 3,000, about 7%.
 */
const WARMUP = 3_000;
/**
 * Single-writer figure of the design this replaced (one process per home, signing in-thread),
 * from bench/results.md before issue 11: measured on another day, so the ratio says more about
 * the machine's load than about the log (an in-process append-only comparison of both designs
 * on one quiet moment showed the multi-writer WAL at par or faster).
 */
const SINGLE_WRITER_BEFORE = 11_054;

interface RunResult {
  readonly perSecond: number;
  readonly cpuUsPerReceipt: number;
  readonly processUsPerReceipt: number;
  /** Whole-process CPU of every writer over the wall time: how much of the machine the run used. */
  readonly coresBusy: number;
  /** From the last writer's last acknowledgement until every writer had closed the log. */
  readonly closeMs: number;
}

interface WriterResult {
  readonly count: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly processCpuMs: number;
}

/** Starts `writers` processes on one log, releases them together, and returns receipts/s over all. */
async function run(writers: number): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-bench-writers-'));
  const seed = randomBytes(32).toString('hex');
  const each = Math.floor(TOTAL / writers);
  try {
    const children = Array.from({ length: writers }, () =>
      spawn(
        process.execPath,
        [VITE_NODE, CHILD, dir, seed, 'oacp.bench/writers', String(each), String(WARMUP)],
        {
          cwd: REPO,
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      ),
    );
    const lines = children.map((child) => {
      let buffer = '';
      const seen: string[] = [];
      const waiters: Array<() => void> = [];
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        const parts = buffer.split('\n');
        buffer = parts.pop() ?? '';
        seen.push(...parts);
        for (const wake of waiters.splice(0)) wake();
      });
      return async (index: number): Promise<string> => {
        while (seen.length <= index) await new Promise<void>((resolve) => waiters.push(resolve));
        return seen[index] as string;
      };
    });
    await Promise.all(lines.map((line) => line(0)));
    const start = performance.now();
    for (const child of children) child.stdin.write('go\n');
    // The window ends at the last durable acknowledgement; each writer closes the log after it.
    const results = (await Promise.all(lines.map((line) => line(1)))).map(
      (text) => JSON.parse(text) as WriterResult,
    );
    const wall = performance.now() - start;
    await Promise.all(lines.map((line) => line(2)));
    const closeMs = performance.now() - start - wall;
    const count = results.reduce((sum, r) => sum + r.count, 0);
    const cpu = results.reduce((sum, r) => sum + r.cpuMs, 0);
    const all = results.reduce((sum, r) => sum + r.processCpuMs, 0);
    return {
      perSecond: count / (wall / 1000),
      cpuUsPerReceipt: (cpu * 1000) / count,
      processUsPerReceipt: (all * 1000) / count,
      coresBusy: all / wall,
      closeMs,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Receipts/s of signing alone (no log) on this thread, warmed up like the writers: what one
 * core can sign, measured now.
 */
async function signOnlyPerSecond(): Promise<number> {
  const airlock = keySigner(generateEd25519().privateKey);
  const statement = buildStatement({
    predicateType: TOOL_CALL_PREDICATE_TYPE,
    predicate: toolCallPredicate(undefined),
  });
  for (let i = 0; i < WARMUP; i += 1) await signReceiptAsync(statement, { airlock });
  const count = 4000;
  const start = performance.now();
  for (let i = 0; i < count; i += 1) await signReceiptAsync(statement, { airlock });
  return count / ((performance.now() - start) / 1000);
}

/**
 * Receipts/s (sign in-thread + durable append) with 1, 2 and 8 writer processes on one home,
 * each appending through the flock'ed multi-writer WAL, beside signing alone measured in the
 * same run (the CPU ceiling: cores x that) and the single-writer figure of the design it
 * replaced. The window runs from releasing the writers to the last durable acknowledgement;
 * closing (each writer's final publishing round) is timed apart, in the note. Main-thread and
 * whole-process CPU per receipt are summed over the writers, and the note gives the cores the
 * writers kept busy and the receipts/s that CPU per receipt allows on every core of the machine:
 * a run well below that waited on something other than the CPU. The load average before and
 * after each run goes in the note (the machine is shared).
 */
const writersCase: BenchCase = {
  id: 'log-writers',
  title: 'receipts/s with 1, 2 and 8 writer processes on one home (sign + durable append)',
  async run(report) {
    const figures: Figure[] = [];
    const cores = availableParallelism();
    const signOnly = await signOnlyPerSecond();
    report(`sign only, one thread: ${Math.round(signOnly)} receipts/s (ceiling ${cores} x that)`);
    let one: RunResult | undefined;
    for (const writers of [1, 2, 8]) {
      const before = loadavg()[0] ?? 0;
      const result = await run(writers);
      const after = loadavg()[0] ?? 0;
      one ??= result;
      const allows = (cores * 1_000_000) / result.processUsPerReceipt;
      report(
        `${writers} writer(s): ${Math.round(result.perSecond)} receipts/s, ${result.cpuUsPerReceipt.toFixed(1)} µs main-thread CPU, ${result.processUsPerReceipt.toFixed(1)} µs process CPU per receipt, ${result.coresBusy.toFixed(2)} cores busy (that CPU per receipt allows ${Math.round(allows)}/s on ${cores}), closing ${Math.round(result.closeMs)} ms, load ${before.toFixed(1)} -> ${after.toFixed(1)}`,
      );
      const note = `${TOTAL} receipts split over the writers after ${WARMUP} untimed ones each (V8 warm-up; see log-writer-child.ts), 256 in flight each, timed to the last durable acknowledgement (closing the log after it took ${Math.round(result.closeMs)} ms more for all writers), ${cores} core(s), 1-min load average ${before.toFixed(1)} before and ${after.toFixed(1)} after (other jobs share the machine); CPU per receipt summed over writers: main thread ${result.cpuUsPerReceipt.toFixed(1)} µs, whole process ${result.processUsPerReceipt.toFixed(1)} µs, ${result.coresBusy.toFixed(2)} cores busy; at that CPU per receipt ${cores} cores allow ${Math.round(allows)} receipts/s; the single-writer design before issue 11 did ${SINGLE_WRITER_BEFORE} receipts/s on another day`;
      figures.push(
        figure({
          case: 'log-writers',
          metric: `${writers} writer process(es), sign + durable append`,
          unit: 'receipts/s',
          subject: result.perSecond,
          baselineName: `sign only, no log, ${cores} thread(s) (the CPU ceiling, this run)`,
          baseline: signOnly * cores,
          ...(writers === 8 ? { goal: { op: '>=' as const, value: 20_000 } } : {}),
          note,
        }),
      );
      figures.push(
        figure({
          case: 'log-writers',
          metric: `main-thread CPU per receipt, ${writers} writer(s)`,
          unit: 'µs',
          subject: result.cpuUsPerReceipt,
          baselineName: 'main-thread CPU per receipt, 1 writer',
          baseline: one.cpuUsPerReceipt,
        }),
      );
    }
    return figures;
  },
};

export const logWriterCases: BenchCase[] = [writersCase];
