import { chownSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { isRoot, oacpCli, openDir, uidListed } from './confine-harness.js';

/**
 * Issue 9, item 2 (never the OACP home), for an account with no passwd entry (a container's
 * arbitrary uid, as OpenShift runs): `oacp init` registered the home in the registry under the
 * first passwd line's home (root's), could not write there, and skipped it silently; the home was
 * registered nowhere, and a later grant three levels above it (beyond the marker look's two)
 * showed its master key. The account's registry is now under `$HOME` when it has no passwd home.
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};
const tiers = (['hardened', 'gvisor'] as const).filter((tier) => available[tier]);
/** A uid /etc/passwd does not list. */
const NAMELESS = { uid: 1237, gid: 1237 };
const listed = uidListed(NAMELESS.uid);

describe.skipIf(!isRoot || listed || tiers.length === 0)('a home made by a uid with no passwd entry', () => {
  const root = openDir('oacp-registry-nameless-');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('is registered under $HOME, and a grant three levels above it is refused by name', async () => {
    const base = join(root, 'base');
    const home = join(base, 'a', 'b', 'c', 'home');
    const user = join(root, 'user');
    for (const dir of [base, user]) {
      mkdirSync(dir);
      chownSync(dir, NAMELESS.uid, NAMELESS.gid);
    }
    const env = { HOME: user };
    const init = await oacpCli(['init'], { env: { ...env, OACP_HOME: home }, asUser: NAMELESS });
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    expect(readdirSync(join(user, '.config', 'oacp', 'homes.d')).length).toBe(1);
    for (const tier of tiers) {
      const attack = await oacpCli(
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
      expect(attack.stdout, tier).toBe('');
      expect(attack.code, tier).not.toBe(0);
      expect(attack.stderr, tier).toContain(`overlaps the OACP home ${home}`);
    }
  }, 240_000);
});
