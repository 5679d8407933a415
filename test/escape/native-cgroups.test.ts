import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detectCgroupHost } from '../../src/airlock/cgroups/index.js';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { manifest, PYTHON, run } from './native-harness.js';
import {
  MEMFD_768_MIB,
  NAPPING_LOOP,
  RESERVE_8_GIB,
  SYSV_770_MIB,
  TWO_SPINNERS,
  tmpfsFill,
} from './resource-attacks.js';

/**
 * Memory outside RSS and CPU that dodges a sampler, against the kernel's
 * own counters (cgroup v1 or v2, whichever this host has). Needs root on a
 * cgroup v1 host, or a delegated v2 subtree; the unprivileged fallback and
 * its refusal are covered in native-unenforced.test.ts.
 */
const host = detectCgroupHost();
const kernel = host.memory.available && host.pids.available && host.cpu.available;
const hardened = new HardenedTier({ pollMs: 25 });
const gvisor = new GvisorTier({ pollMs: 25 });
const tiers = [
  { name: 'hardened', tier: hardened, ok: (await hardened.availability()).available },
  { name: 'gvisor', tier: gvisor, ok: (await gvisor.availability()).available },
];
if (!kernel) console.log('skipping cgroup attacks: no memory/pids/cpu controller for this user');

const contained = (result: { out: string; status: { killedBy?: string } }): boolean =>
  result.status.killedBy === 'memory' || /^refused/m.test(result.out);

for (const { name, tier, ok } of tiers) {
  describe.skipIf(!kernel || !ok || !existsSync(PYTHON))(`${name} tier: memory the kernel charges`, () => {
    it('kills 768 MiB of memfd under --quota-memory 64mb and names the flag', async () => {
      const result = await run(tier, {
        command: PYTHON,
        args: ['-c', MEMFD_768_MIB],
        manifest: manifest({}, { memory_mb: 64 }),
      });
      expect(result.out).not.toMatch(/held/);
      expect(result.status.killedBy).toBe('memory');
      expect(result.status.detail).toMatch(/--quota-memory or quotas\.memory_mb/);
    });

    it('kills 400 MiB written to /dev/shm under 64 MiB', async () => {
      const result = await run(tier, {
        command: PYTHON,
        args: ['-c', tmpfsFill('/dev/shm/hoard', 400)],
        manifest: manifest({}, { memory_mb: 64 }),
      });
      expect(result.out).not.toMatch(/held/);
      expect(contained(result)).toBe(true);
    });

    it('kills 400 MiB of /tmp even when tmp_mb would allow it (tmpfs pages are charged)', async () => {
      const result = await run(tier, {
        command: PYTHON,
        args: ['-c', tmpfsFill('/tmp/hoard', 400)],
        manifest: manifest({}, { memory_mb: 64, tmp_mb: 1024 }),
      });
      expect(result.out).not.toMatch(/held/);
      expect(contained(result)).toBe(true);
    });

    it('kills or refuses 770 MiB of detached SysV shared memory', async () => {
      const result = await run(tier, {
        command: PYTHON,
        args: ['-c', SYSV_770_MIB],
        manifest: manifest({}, { memory_mb: 64 }),
      });
      expect(result.out).not.toMatch(/held/);
      expect(contained(result)).toBe(true);
    });

    it('lets a runtime reserve address space it does not touch (no RLIMIT_AS)', async () => {
      const result = await run(tier, {
        command: PYTHON,
        args: ['-c', RESERVE_8_GIB],
        manifest: manifest({}, { memory_mb: 64 }),
      });
      expect(result.out.trim()).toBe(`reserved ${8 * 1024 ** 3}`);
    });

    it('kills a loop that naps between slices near the lifetime CPU budget', async () => {
      const result = await run(tier, {
        command: PYTHON,
        args: ['-c', NAPPING_LOOP],
        manifest: manifest({}, { cpu_ms_per_request: 500, cpu_ms_total: 500 }),
      });
      expect(result.status.killedBy).toBe('cpu');
      expect(result.status.detail).toMatch(/quotas\.cpu_ms_total/);
      expect(result.usage.cpuMs).toBeGreaterThanOrEqual(500);
    });
  });
}

describe.skipIf(!kernel || !tiers[0]?.ok || !existsSync(PYTHON))(
  'hardened tier: CPU the kernel counts',
  () => {
    it('ends the busy stretch of a napping loop at cpu_ms_per_request', async () => {
      const result = await run(hardened, {
        command: PYTHON,
        args: ['-c', NAPPING_LOOP],
        manifest: manifest({}, { cpu_ms_per_request: 500, startup_cpu_ms: 0 }),
      });
      expect(result.status.killedBy).toBe('cpu');
      expect(result.status.detail).toMatch(/busy stretch.*--quota-cpu or quotas\.cpu_ms_per_request/);
      // Sampled every 25 ms, the kill lands within a few samples of the limit, not seconds later.
      expect(result.usage.cpuMs).toBeLessThan(1500);
    });

    it('gives two spinning processes one CPU between them (cpu bandwidth)', async () => {
      const result = await run(hardened, {
        command: PYTHON,
        args: ['-c', TWO_SPINNERS],
        manifest: manifest({}, { cpu_ms_per_request: 10_000 }),
      });
      // Unthrottled on two cores they would get ~3 s; the cgroup allows 1.5 s of wall time at one CPU.
      expect(Number(result.out.trim())).toBeLessThan(2.2);
    });

    it('bounds a fork bomb with pids.max as root (no shared-uid rlimit needed)', async () => {
      const result = await run(hardened, {
        command: '/bin/sh',
        args: ['-c', 'bomb() { bomb | bomb & }; bomb; sleep 2; echo survived'],
        manifest: manifest({}, { max_pids: 32, cpu_ms_per_request: 5000 }),
      });
      expect(
        result.status.killedBy === 'pids' || /fork|Resource temporarily unavailable/i.test(result.err),
      ).toBe(true);
    });
  },
);
