import { describe, expect, it } from 'vitest';
import { CpuWatch, STARTUP_WINDOW_MS } from './cpu-watch.js';
import type { WatchLimits } from './limits.js';

const limits: WatchLimits = {
  outputBytes: 1,
  cpuBusyMs: 500,
  startupCpuMs: 2_000,
  cpuTotalMs: 10_000,
  maxProcesses: 1,
  pollMs: 25,
};

/** Feeds `steps` samples 25 ms apart, each adding `cpuPerStep`, and returns the first verdict. */
function drive(
  watch: CpuWatch,
  from: { at: number; cpu: number },
  steps: number,
  cpuPerStep: number,
  runnable: boolean,
) {
  for (let i = 0; i < steps; i++) {
    from.at += 25;
    from.cpu += cpuPerStep;
    const verdict = watch.observe(from.at, from.cpu, () => runnable);
    if (verdict !== undefined) return verdict;
  }
  return undefined;
}

describe('CpuWatch', () => {
  it('allows the start-up budget in the first stretch, then the per-request limit after an idle wait', () => {
    const watch = new CpuWatch(limits, 0);
    const clock = { at: 0, cpu: 0 };
    expect(drive(watch, clock, 60, 25, true)).toBeUndefined(); // 1.5 s of start-up CPU
    expect(drive(watch, clock, 10, 0, false)).toBeUndefined(); // 250 ms idle: the stretch ends
    clock.at += STARTUP_WINDOW_MS;
    expect(drive(watch, clock, 40, 25, true)).toMatchObject({ limit: 'cpu_ms_per_request', limitMs: 500 });
  });

  it('keeps a loop that naps between slices in one stretch', () => {
    const watch = new CpuWatch({ ...limits, startupCpuMs: 0 }, 0);
    const clock = { at: 0, cpu: 0 };
    // 15 ms of CPU per 25 ms, and asleep at every sample: never quiet enough to end the stretch.
    expect(drive(watch, clock, 100, 15, false)).toMatchObject({ limit: 'cpu_ms_per_request' });
  });

  it('ends a start-up that never goes idle at startup_cpu_ms', () => {
    const watch = new CpuWatch(limits, 0);
    expect(drive(watch, { at: 0, cpu: 0 }, 200, 25, true)).toMatchObject({
      limit: 'startup_cpu_ms',
      limitMs: 2_000,
    });
  });

  it('reads whether a thread is runnable only for samples that used almost no CPU', () => {
    const watch = new CpuWatch({ ...limits, startupCpuMs: 0 }, 0);
    let asked = 0;
    const runnable = () => {
      asked++;
      return true;
    };
    // Busy samples: a stat file per thread would be read for nothing.
    for (let at = 25; at <= 250; at += 25) watch.observe(at, at, runnable);
    expect(asked).toBe(0);
    // No CPU, but a thread waits for one (a starved loop): asked every sample, and never quiet.
    for (let at = 275; at <= 1_000; at += 25) expect(watch.observe(at, 250, runnable)).toBeUndefined();
    expect(asked).toBe(30);
    expect(watch.stretchMs).toBe(250);
    expect(watch.observe(1_025, 600, runnable)).toMatchObject({ limit: 'cpu_ms_per_request', usedMs: 600 });
  });

  it('counts the lifetime total across idle waits', () => {
    const watch = new CpuWatch({ ...limits, cpuTotalMs: 1_000 }, 0);
    const clock = { at: STARTUP_WINDOW_MS, cpu: 0 };
    let verdict: ReturnType<CpuWatch['observe']>;
    for (let round = 0; round < 10 && verdict === undefined; round++) {
      verdict = drive(watch, clock, 8, 25, true) ?? drive(watch, clock, 10, 0, false);
    }
    expect(verdict).toMatchObject({ limit: 'cpu_ms_total', limitMs: 1_000 });
  });
});
