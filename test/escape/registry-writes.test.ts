import { chownSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { isRoot, oacpCli, openDir, uidListed } from './confine-harness.js';

/**
 * Issue 9, item 2 (never the OACP home), through the registry that finds homes deep below a
 * grant: a workload given a writable grant holding a registry (`~/.config:rw`, `/var/lib/oacp:rw`)
 * deleted its entries, and a later sandbox's grant three levels above a registered home showed its
 * master key. A writable grant overlapping a registry is refused, naming it. Run as a uid with no
 * passwd entry, whose registry is under a scratch `$HOME`: the attack, were it to pass, must not
 * delete the entries of the host's or a real account's registry that other tests rely on.
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};
const tiers = (['hardened', 'gvisor'] as const).filter((tier) => available[tier]);
const NAMELESS = { uid: 1238, gid: 1238 };
const listed = uidListed(NAMELESS.uid);

describe.skipIf(!isRoot || listed || tiers.length === 0)('a writable grant holding a home registry', () => {
  const root = openDir('oacp-registry-writes-');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('is refused by name in every tier, the entries stay, and the home stays guarded', async () => {
    const base = join(root, 'base');
    const user = join(root, 'user');
    for (const dir of [base, user]) {
      mkdirSync(dir);
      chownSync(dir, NAMELESS.uid, NAMELESS.gid);
    }
    const home = join(base, 'a', 'b', 'c', 'home');
    const env = { HOME: user };
    const init = await oacpCli(['init'], { env: { ...env, OACP_HOME: home }, asUser: NAMELESS });
    expect(init.code, init.stderr).toBe(0);
    const registry = join(user, '.config', 'oacp', 'homes.d');
    const entries = readdirSync(registry);
    expect(entries.length).toBe(1);
    for (const tier of tiers) {
      for (const grant of [join(user, '.config'), registry]) {
        const attack = await oacpCli(
          [
            'run',
            '--tier',
            tier,
            '--allow-files',
            `${grant}:rw`,
            '--',
            '/bin/sh',
            '-c',
            `rm -rf ${registry}/*`,
          ],
          { env, asUser: NAMELESS },
        );
        expect(attack.code, `${tier} ${grant}`).not.toBe(0);
        expect(attack.stderr, `${tier} ${grant}`).toContain(`overlaps OACP's home registry ${registry}`);
        expect(readdirSync(registry)).toEqual(entries);
      }
      // Read-only, it is granted: the registry is no secret.
      const read = await oacpCli(
        ['run', '--tier', tier, '--allow-files', `${registry}:ro`, '--', '/bin/ls', registry],
        {
          env,
          asUser: NAMELESS,
        },
      );
      expect(read.stdout.trim(), read.stderr).toBe(entries[0]);
      const later = await oacpCli(
        [
          'run',
          '--tier',
          tier,
          '--allow-files',
          base,
          '--',
          '/usr/bin/od',
          '-An',
          '-tx1',
          join(home, 'master.key'),
        ],
        { env, asUser: NAMELESS },
      );
      expect(later.stdout, tier).toBe('');
      expect(later.stderr, tier).toContain(`overlaps the OACP home ${home}`);
    }
  }, 240_000);
});
