import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { isRoot, oacpCli, openDir, operatorHome, REGULAR_USER } from './confine-harness.js';

/**
 * Issue 9, item 2 (keys): the OACP home is refused by identity, not only by
 * name. A bind mount of the home, of its keys directory or master key, of a
 * directory holding the home and a mount of the home inside a granted
 * directory all show the key under a name the path check cannot know. Hard
 * links of a key: test/escape/home-key-links.test.ts. Bind mounts need root to make; the
 * regular user then attacks through the alias root left behind.
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};
const KEY = 'ALIASED-MASTER-KEY';

describe.skipIf(!isRoot)('the OACP home under another name', () => {
  const root = openDir('oacp-home-alias-');
  const { home, masterKey } = operatorHome(root);
  const oacpHome = join(home, '.oacp');
  const alias = (name: string) => join(root, name);
  const mounts: string[] = [];
  const bind = (source: string, target: string) => {
    execFileSync('mount', ['--bind', source, target]);
    mounts.unshift(target);
  };

  beforeAll(() => {
    writeFileSync(masterKey, KEY, { mode: 0o600 });
    writeFileSync(join(oacpHome, 'keys', 'airlock.json'), KEY, { mode: 0o600 });
    for (const dir of ['home-alias', 'keys-alias', 'parent-alias', 'grant/inner']) {
      mkdirSync(alias(dir), { recursive: true });
    }
    writeFileSync(alias('key-alias'), '');
    bind(oacpHome, alias('home-alias'));
    bind(join(oacpHome, 'keys'), alias('keys-alias'));
    bind(home, alias('parent-alias'));
    bind(masterKey, alias('key-alias'));
    bind(oacpHome, alias('grant/inner'));
  });
  // Root refuses a home of another account (src/cli/home.ts), so the home is root's for root's cases and
  // the regular user's only while that user's case runs.
  const ownedBy = (owner: { uid: number; gid: number }) =>
    execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, home]);
  afterAll(() => {
    for (const target of mounts) execFileSync('umount', [target]);
    rmSync(root, { recursive: true, force: true });
  });

  const attacks: readonly { name: string; grant: string; read: string; refusal: RegExp }[] = [
    {
      name: 'a bind mount of the home',
      grant: 'home-alias',
      read: 'home-alias/master.key',
      refusal: /shows .*\.oacp of the OACP home/,
    },
    {
      name: 'a path inside a bind mount of the home',
      grant: 'home-alias/keys',
      read: 'home-alias/keys/airlock.json',
      refusal: /shows .*\.oacp of the OACP home/,
    },
    {
      name: 'a bind mount of the keys directory',
      grant: 'keys-alias',
      read: 'keys-alias/airlock.json',
      refusal: /shows .*keys of the OACP home/,
    },
    {
      name: 'a bind mount of the directory holding the home',
      grant: 'parent-alias',
      read: 'parent-alias/.oacp/master.key',
      refusal: /which holds the OACP home/,
    },
    {
      name: 'a bind mount of the master key',
      grant: 'key-alias',
      read: 'key-alias',
      refusal: /master\.key of the OACP home/,
    },
    {
      name: 'a directory holding a mount of the home',
      grant: 'grant',
      read: 'grant/inner/master.key',
      refusal: /holds the mount .*inner/,
    },
  ];

  for (const tier of ['hardened', 'gvisor'] as const) {
    describe.skipIf(!available[tier])(tier, () => {
      for (const attack of attacks) {
        it(`refuses ${attack.name} by name, and prints nothing of the key`, async () => {
          const result = await oacpCli(
            [
              'run',
              '--tier',
              tier,
              '--allow-files',
              alias(attack.grant),
              '--',
              '/bin/cat',
              alias(attack.read),
            ],
            { env: { HOME: home } },
          );
          expect(result.stdout + result.stderr).not.toContain(KEY);
          expect(result.code).not.toBe(0);
          expect(result.stderr).toMatch(attack.refusal);
        });
      }
      it('refuses a bind mount of the home for a regular user too', async () => {
        ownedBy(REGULAR_USER);
        const result = await oacpCli(
          [
            'run',
            '--tier',
            tier,
            '--allow-files',
            alias('home-alias'),
            '--',
            '/bin/cat',
            alias('home-alias/master.key'),
          ],
          { env: { HOME: home }, asUser: REGULAR_USER },
        ).finally(() => ownedBy({ uid: 0, gid: 0 }));
        expect(result.stdout + result.stderr).not.toContain(KEY);
        expect(result.stderr).toMatch(/of the OACP home under another name/);
      });
    });
  }
});
