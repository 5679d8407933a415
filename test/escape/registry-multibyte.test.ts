import { chownSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { ATTACKERS, oacpCli, openDir, who } from './confine-harness.js';

/**
 * Issue 9, item 2 (never the OACP home, whatever any grant says), for a home `oacp init` made
 * deeper than the marker look below a grant reaches (two levels): only the registry knows it. An
 * entry was named by the home's path when the path had at most 180 characters, but a file name
 * holds 255 bytes: a path of 70 CJK characters (210 bytes) made a name too long, the write failed
 * as an unwritable registry does, silently, and a later grant of a directory above the home
 * showed its master key (read in both tiers as uid 1000).
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};
const tiers = (['hardened', 'gvisor'] as const).filter((tier) => available[tier]);

describe.skipIf(tiers.length === 0)('a home whose path is short in characters but long in bytes', () => {
  const root = openDir('oacp-registry-bytes-');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  for (const user of ATTACKERS) {
    it(`is registered, and a grant three levels above it is refused by name (${who(user)})`, async () => {
      const base = join(root, user === undefined ? 'invoker' : 'regular');
      // The operator's own ~/.oacp is guarded by name: it lives beside the grant, not in it.
      const operator = join(root, user === undefined ? 'invoker-home' : 'regular-home');
      mkdirSync(base);
      mkdirSync(operator);
      if (user !== undefined) for (const dir of [base, operator]) chownSync(dir, user.uid, user.gid);
      const home = join(base, 'a', 'b', 'c', '鍵'.repeat(70), 'home');
      const as = user === undefined ? {} : { asUser: user };
      const init = await oacpCli(['init'], { env: { HOME: operator, OACP_HOME: home }, ...as });
      expect(init.stderr).toBe('');
      expect(init.code).toBe(0);
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
          { env: { HOME: operator }, ...as },
        );
        expect(attack.stdout, tier).toBe('');
        expect(attack.code, tier).not.toBe(0);
        expect(attack.stderr, tier).toContain(`overlaps the OACP home ${home}`);
      }
    }, 240_000);
  }
});
