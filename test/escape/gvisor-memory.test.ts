import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detectCgroupHost } from '../../src/airlock/cgroups/index.js';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { manifest, PYTHON, run } from './native-harness.js';

/**
 * Issue 9 (round 3, item 3): a gVisor workload cannot hold more than its
 * memory quota through shared memory. The sentry had no /dev/shm of its own
 * (shm_open failed with EACCES, so a fill "held" nothing); now it is a tmpfs
 * inside the sentry sized to the quota, whose pages the sandbox's cgroup is
 * charged for. The attack: fill /dev/shm and POSIX shared memory segments
 * 1 MiB at a time, well beyond the 64 MiB quota.
 */
const MIB = 1024 * 1024;
const tier = new GvisorTier({ pollMs: 25 });
const skip = !(await tier.availability()).available || !existsSync(PYTHON);
const memoryByKernel = detectCgroupHost().memory.available;

/** Prints what it holds after each MiB: a segment beyond a full tmpfs dies of SIGBUS on its first write. */
const FILL = `
from multiprocessing import shared_memory
chunk = b"x" * (1 << 20)
held = 0
try:
    f = open("/dev/shm/fill", "wb")
    while held < 32:
        f.write(chunk); f.flush(); held += 1
        print("held", held, flush=True)
    segments = []
    while held < 512:
        segment = shared_memory.SharedMemory(create=True, size=1 << 20)
        segment.buf[:] = chunk
        segments.append(segment)
        held += 1
        print("held", held, flush=True)
except OSError as e:
    print("stopped:", e.errno, flush=True)
`;

describe.skipIf(skip)('gvisor: shared memory within the quota', () => {
  it('a /dev/shm and shm_open fill never holds more than --quota-memory', { timeout: 60_000 }, async () => {
    const result = await run(tier, {
      command: PYTHON,
      args: ['-c', FILL],
      manifest: manifest({}, { memory_mb: 64 }),
    });
    const held = Math.max(0, ...[...result.out.matchAll(/held (\d+)/g)].map((match) => Number(match[1])));
    // It got going (the file and the first segments), and stopped at the quota: /dev/shm full
    // (ENOSPC, or SIGBUS for a mapped segment: runsc exits 128 + 7) or the kernel's memory kill.
    expect(held).toBeGreaterThan(33);
    expect(held).toBeLessThanOrEqual(64);
    const stopped =
      result.status.killedBy === 'memory' || result.status.code === 135 || result.out.includes('stopped: 28');
    expect([stopped, result.status]).toEqual([true, result.status]);
    // Never more charged than the quota plus the sentry's fixed allowance (64 MiB).
    if (memoryByKernel) expect(result.usage.memoryPeakBytes).toBeLessThanOrEqual(128 * MIB);
  });
});
