import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ownThreadCpuClock, threadCpuClock } from './thread-cpu.js';

/**
 * Reports its kernel thread id, then on request does a fixed amount of work (~0.1-0.5 s of CPU).
 * The listener stays (`on`, not `once`): a worker with nothing left to wait for exits right after
 * its answer, and a thread that has exited reads as the clock's last value, so the test raced it.
 */
const BUSY = `
const { parentPort } = require('node:worker_threads');
const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
parentPort.postMessage(tid);
parentPort.on('message', () => {
  let x = 0;
  for (let i = 0; i < 3e8; i++) x = (x + i) % 1000003;
  parentPort.postMessage(x);
});
`;

describe('threadCpuClock', () => {
  it("reads another thread's CPU time from outside it: it grows while that thread computes", async () => {
    const worker = new Worker(BUSY, { eval: true });
    const next = () => new Promise<unknown>((resolve) => worker.once('message', resolve));
    const tid = Number(await next());
    const { clock, source } = threadCpuClock(tid);
    expect(source).toBe('thread-cpu');
    const before = clock();
    const done = next();
    worker.postMessage('work');
    await done;
    expect(clock() - before).toBeGreaterThan(10);
    await worker.terminate();
  });

  it('falls back to wall time when the thread cannot be read', () => {
    expect(threadCpuClock(undefined).source).toBe('wall');
    expect(threadCpuClock(2 ** 30).source).toBe('wall');
  });
});

describe('ownThreadCpuClock', () => {
  it('measures short spans exactly: never more than their wall time (a stale reading was a whole tick)', () => {
    const clock = ownThreadCpuClock();
    expect(clock).toBeDefined();
    if (clock === undefined) return;
    const over: number[] = [];
    for (let round = 0; round < 40; round++) {
      // Work the clock does not see, so the kernel's figure for this thread falls behind.
      let x = 0;
      for (let i = 0; i < 2e5; i++) x = (x + i) % 7;
      const before = clock();
      const start = performance.now();
      while (performance.now() - start < 0.2);
      const spent = clock() - before;
      const wall = performance.now() - start;
      // Up to a tick (4 ms at HZ=250) over before; now the two readings' own cost (~0.1 ms).
      if (spent > wall + 1) over.push(Number((spent - wall).toFixed(3)));
    }
    expect(over).toEqual([]);
  });

  it('does not count time the thread spends asleep', () => {
    const clock = ownThreadCpuClock();
    if (clock === undefined) throw new Error('no per-thread CPU clock on this host');
    const before = clock();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
    expect(clock() - before).toBeLessThan(50);
  });
});
