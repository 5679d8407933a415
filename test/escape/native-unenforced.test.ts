import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CgroupHost } from '../../src/airlock/cgroups/index.js';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { manifest, PYTHON, run } from './native-harness.js';

/**
 * A host where this user has no cgroup controller (cgroup v1 as a regular
 * user, v2 not delegated): the tiers refuse every limit they cannot
 * enforce, naming the opt-out, and with the opt-out fall back to polling.
 */
const reason = 'cgroup v1 memory at /sys/fs/cgroup/memory is not writable by uid 1000 (v1 needs root)';
const NONE: CgroupHost = {
  memory: { available: false, reason },
  pids: { available: false, reason },
  cpu: { available: false, reason },
  io: { available: false, reason },
};
const ALL = ['memory', 'pids', 'cpu', 'disk_io'];

const hardened = new HardenedTier({ pollMs: 25, cgroups: NONE });
const gvisor = new GvisorTier({ pollMs: 25, cgroups: NONE });
const tiers = [
  { name: 'hardened', tier: hardened, ok: (await hardened.availability()).available },
  { name: 'gvisor', tier: gvisor, ok: (await gvisor.availability()).available },
];

for (const { name, tier, ok } of tiers) {
  describe.skipIf(!ok || !existsSync(PYTHON))(`${name} tier without cgroup controllers`, () => {
    it('refuses to start, naming each unenforceable quota and the opt-out', async () => {
      const attempt = run(tier, { command: '/bin/true', args: [], manifest: manifest() });
      await expect(attempt).rejects.toMatchObject({ code: 'AIRLOCK_LIMIT_UNENFORCED' });
      await expect(attempt).rejects.toThrow(/memory_mb \(cgroup v1 memory .* not writable/);
      await expect(attempt).rejects.toThrow(/--allow-unenforced memory,pids,cpu\b/);
      await expect(attempt).rejects.toThrow(/quotas\.allow_unenforced/);
    });

    it('refuses what is still missing when only some quotas are opted out', async () => {
      const attempt = run(tier, {
        command: '/bin/true',
        args: [],
        manifest: manifest({}, {}, { allow_unenforced: ['memory'] }),
      });
      await expect(attempt).rejects.toThrow(/--allow-unenforced pids,cpu\b/);
    });

    it('runs with the opt-out and kills a memory bomb by polling instead', async () => {
      const result = await run(tier, {
        command: PYTHON,
        args: [
          '-c',
          'import time\nchunks = []\nwhile True:\n  chunks.append(bytearray(16 << 20))\n  time.sleep(0.005)',
        ],
        manifest: manifest({}, { memory_mb: 64 }, { allow_unenforced: ALL }),
      });
      expect(result.status.killedBy).toBe('memory');
      expect(result.status.detail).toMatch(/resident memory passed the limit.*--quota-memory/);
    });
  });
}
