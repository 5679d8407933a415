import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/**
 * One figure of a benchmark: the subject and its baseline measured in the same
 * run, so a noisy shared machine moves both together and the ratio stays
 * meaningful.
 */
export interface Figure {
  readonly case: string;
  readonly metric: string;
  readonly unit: string;
  readonly subject: number;
  readonly baselineName: string;
  readonly baseline: number;
  readonly ratio: number;
  readonly goal?: { readonly op: '>=' | '<='; readonly value: number; readonly met: boolean };
  readonly note?: string;
}

export interface BenchCase {
  readonly id: string;
  readonly title: string;
  run(report: (line: string) => void): Promise<Figure[]>;
}

export function figure(
  input: Omit<Figure, 'ratio' | 'goal'> & { goal?: { op: '>=' | '<='; value: number } },
): Figure {
  const ratio = input.baseline === 0 ? Number.POSITIVE_INFINITY : input.subject / input.baseline;
  const { goal, ...rest } = input;
  if (goal === undefined) return { ...rest, ratio };
  const met = goal.op === '>=' ? input.subject >= goal.value : input.subject <= goal.value;
  return { ...rest, ratio, goal: { ...goal, met } };
}

/** Latencies in ms of `iterations` sequential calls, after `warmup` unmeasured ones. */
export async function latencies(
  fn: () => unknown,
  iterations: number,
  warmup = Math.min(50, iterations),
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = new Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    await fn();
    samples[i] = performance.now() - start;
  }
  return samples;
}

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/** Operations per second for `fn` run with `concurrency` in flight until `count` complete. */
export async function throughput(
  fn: () => Promise<unknown>,
  count: number,
  concurrency: number,
): Promise<number> {
  let started = 0;
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (started < count) {
      started++;
      await fn();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return count / ((performance.now() - start) / 1000);
}

/** Same for synchronous work. */
export function syncThroughput(fn: (i: number) => unknown, count: number): number {
  const start = performance.now();
  for (let i = 0; i < count; i++) fn(i);
  return count / ((performance.now() - start) / 1000);
}

/** Linux clock ticks per second for /proc/self/stat (USER_HZ). */
const TICKS_PER_SECOND = 100;

/**
 * CPU milliseconds of this process and of its reaped children (every sandbox
 * process is reaped down the tree), or of the reaped children only: less
 * sensitive to load than wall time, in 10 ms ticks.
 */
export function cpuMs(which: 'self and children' | 'children' = 'self and children'): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  // utime, stime, cutime, cstime are fields 14-17 of stat(5); index 0 here is field 3.
  const indexes = which === 'children' ? [13, 14] : [11, 12, 13, 14];
  const ticks = indexes.reduce((sum, index) => sum + Number(fields[index] ?? 0), 0);
  return (ticks * 1000) / TICKS_PER_SECOND;
}
