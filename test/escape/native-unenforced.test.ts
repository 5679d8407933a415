import { existsSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type CgroupHost, detectCgroupHost } from '../../src/airlock/cgroups/index.js';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { oacpAsUid1000, tempDir, uid1000Home } from '../cli/harness.js';
import { binaryBuilt } from '../compat/harness.js';
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
      // gVisor also polls the sentry's memory file (SysV segments are resident nowhere); either poll may fire first.
      expect(result.status.detail).toMatch(
        /(resident memory|its memory in the gVisor kernel \(polled\)) passed the limit.*--quota-memory/,
      );
    });
  });
}

/** The same refusal for real: a regular user on this host (cgroup v1 is root-only), through the CLI. */
const regularUserHasNoCgroups =
  process.getuid?.() === 0 &&
  binaryBuilt() &&
  Object.values(detectCgroupHost()).some((support) => support.available && support.version === 1);

describe.skipIf(!regularUserHasNoCgroups || !tiers[0]?.ok)('a regular user on a cgroup v1 host', () => {
  const asUser = (args: string[]) => {
    const dir = tempDir('oacp-unenforced-');
    try {
      return oacpAsUid1000(args, uid1000Home(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('is refused by oacp run, with the opt-out named, and runs once it opts out', () => {
    const refused = asUser(['run', '--no-receipt', '--', '/bin/echo', 'ran']);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).not.toContain('ran');
    expect(refused.stderr).toMatch(
      /AIRLOCK_LIMIT_UNENFORCED: .*not writable by uid 1000.*--allow-unenforced memory,pids,cpu/,
    );
    const accepted = asUser([
      'run',
      '--no-receipt',
      '--allow-unenforced',
      'memory,pids,cpu',
      '--',
      '/bin/echo',
      'ran',
    ]);
    expect(accepted.stdout.trim()).toBe('ran');
  });

  it('is told by oacp doctor which controller is missing and what stands in for it', () => {
    const doctor = asUser(['doctor']);
    expect(doctor.stdout).toMatch(
      /no +cgroup memory: .*not writable by uid 1000.*--allow-unenforced memory, then: resident memory polled/,
    );
  });
});
