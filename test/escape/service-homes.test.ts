import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { registryEntry, SYSTEM_HOME_REGISTRY } from '../../src/identity/home-registry.js';
import { isRoot, oacpCli, openDir, REGULAR_USER } from './confine-harness.js';

/**
 * Issue 9, item 2 (never the OACP home, whatever any grant says), for homes that are neither
 * named by the invocation nor any account's `~/.oacp`: a gateway service's `OACP_HOME=/srv/oacp`.
 * As root, a grant of its 0700 parent is opened (and idmapped) and showed the service's master
 * key to a sandbox started by another invocation. Such a home is known by the registry `oacp init`
 * writes (however deep below a grant) and by its own marker files (master.key, keys/airlock.json)
 * at a grant, its ancestors and two levels below it (a home made before the registry).
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};
const tiers = (['hardened', 'gvisor'] as const).filter((tier) => available[tier]);

describe.skipIf(tiers.length === 0)('an OACP home no invocation names', () => {
  const root = openDir('oacp-service-home-');
  const operator = join(root, 'operator');
  mkdirSync(operator);
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  // The operator's environment names neither home.
  const env = { HOME: operator };

  /** A home made by hand (no registry entry): a master key in a 0700 directory below `parent`. */
  const looseHome = (parent: string, owner?: { uid: number; gid: number }): string => {
    const home = join(parent, 'gw', 'oacp');
    mkdirSync(join(home, 'keys'), { recursive: true });
    writeFileSync(join(home, 'master.key'), 'SERVICE-MASTER-KEY', { mode: 0o600 });
    chmodSync(home, 0o700);
    chmodSync(join(parent, 'gw'), 0o700);
    if (owner !== undefined)
      for (const path of [parent, join(parent, 'gw'), home, join(home, 'keys'), join(home, 'master.key')])
        chownSync(path, owner.uid, owner.gid);
    return home;
  };

  const cat = (tier: string, grant: string, file: string, asUser?: { uid: number; gid: number }) =>
    oacpCli(['run', '--tier', tier, '--allow-files', grant, '--', '/bin/cat', file], {
      env,
      ...(asUser === undefined ? {} : { asUser }),
    });

  it.skipIf(!isRoot)(
    'a home `oacp init` made deep below a grant is refused by name from the registry',
    async () => {
      const srv = join(root, 'srv');
      const home = join(srv, 'a', 'b', 'oacp');
      mkdirSync(join(srv, 'a', 'b'), { recursive: true });
      const init = await oacpCli(['init'], { env: { HOME: operator, OACP_HOME: home } });
      expect(init.code, init.stderr).toBe(0);
      for (const tier of tiers) {
        const result = await cat(tier, srv, join(home, 'master.key'));
        expect(result.code, tier).not.toBe(0);
        expect(result.stdout).toBe('');
        expect(result.stderr).toContain(`overlaps the OACP home ${home}`);
      }
      expect(readFileSync(registryEntry(SYSTEM_HOME_REGISTRY, home), 'utf8')).toBe(`${home}\n`);
    },
    240_000,
  );

  it.skipIf(!isRoot)(
    "as root, a grant of an unregistered home's 0700 parent, or of a directory inside it, is refused",
    async () => {
      const parent = join(root, 'loose');
      mkdirSync(parent);
      const home = looseHome(parent, { uid: 1234, gid: 1234 });
      for (const tier of tiers) {
        for (const grant of [join(parent, 'gw'), parent, join(home, 'keys')]) {
          const result = await cat(tier, grant, join(home, 'master.key'));
          expect(result.code, `${tier} ${grant}`).not.toBe(0);
          expect(result.stdout).toBe('');
          expect(result.stderr).toContain(`overlaps the OACP home ${home}`);
        }
        // A grant beside the home still works: the guard is about the home.
        writeFileSync(join(parent, 'notes.txt'), 'ordinary file');
        const beside = await cat(tier, join(parent, 'notes.txt'), join(parent, 'notes.txt'));
        expect(beside.stdout, beside.stderr).toBe('ordinary file');
        expect(beside.code).toBe(0);
      }
    },
    240_000,
  );

  it.skipIf(!available.hardened)(
    'as a regular user, a grant of the parent of its own service home is refused',
    async () => {
      const parent = join(root, 'mine');
      mkdirSync(parent);
      const home = looseHome(parent, isRoot ? REGULAR_USER : undefined);
      const result = await cat(
        'hardened',
        join(parent, 'gw'),
        join(home, 'master.key'),
        isRoot ? REGULAR_USER : undefined,
      );
      expect(result.code).not.toBe(0);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`overlaps the OACP home ${home}`);
    },
    120_000,
  );
});
