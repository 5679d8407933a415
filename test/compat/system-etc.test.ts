import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { manifest, run } from '../escape/native-harness.js';

/**
 * The sandbox's /etc carries the world-readable package configuration real
 * servers read (Debian's chromium launcher sources /etc/chromium.d/* and
 * stops without it; fontconfig, os-release, services...), and still no host
 * accounts, no shadow file, no resolver configuration.
 */
const LOOK = [
  'for f in os-release services protocols mime.types fonts/fonts.conf chromium.d shadow gshadow resolv.conf sudoers hostname machine-id; do',
  '  if [ -e /etc/$f ]; then echo "present $f"; else echo "absent $f"; fi',
  'done',
  'grep -c . /etc/passwd',
].join('\n');

const tiers = [
  { name: 'hardened', tier: new HardenedTier({ pollMs: 25 }) },
  { name: 'gvisor', tier: new GvisorTier({ pollMs: 25 }) },
];

for (const { name, tier } of tiers) {
  const ok = (await tier.availability()).available;
  describe.skipIf(!ok)(`${name} tier: the sandbox's /etc`, () => {
    it('has the package configuration servers read, and no accounts, shadow or resolver', async () => {
      const result = await run(tier, { command: '/bin/sh', args: ['-c', LOOK], manifest: manifest() });
      for (const file of [
        'os-release',
        'services',
        'protocols',
        'mime.types',
        'fonts/fonts.conf',
        'chromium.d',
      ])
        if (existsSync(`/etc/${file}`)) expect(result.out).toContain(`present ${file}`);
      for (const file of ['shadow', 'gshadow', 'resolv.conf', 'sudoers', 'hostname', 'machine-id'])
        expect(result.out).toContain(`absent ${file}`);
      // The synthetic passwd: root, nobody and at most the sandbox user, never the host's list.
      expect(Number(result.out.trim().split('\n').at(-1))).toBeLessThanOrEqual(3);
    }, 60_000);
  });
}
