import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { launcherCacheDirectory } from '../../src/airlock/native/launcher/build.js';
import { isRoot, oacpCli, openDir, REGULAR_USER } from './confine-harness.js';

/**
 * Issue 9, item 2: the launcher cache (oacp-launch, the workload seccomp
 * filter, the sandbox's /etc files, the gVisor compat library) is what every
 * later sandbox, and the light tier's guard on the host, starts through. As
 * root a `:rw` grant of a root-owned directory is written as root (idmapped
 * grant), so `--allow-files /var/cache/oacp/launcher:rw` let a workload
 * replace the launcher: its own code, unconfined, in every later sandbox.
 * No writable grant may reach the cache, by name or by a bind mount of it;
 * read-only is harmless and still works.
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};
const MARK = 'oacp-escape-test-planted';

describe.skipIf(!isRoot)('the launcher cache through a grant', () => {
  const cache = launcherCacheDirectory({});
  const planted = join(cache, MARK);
  const root = openDir('oacp-launcher-alias-');
  const alias = join(root, 'alias');
  mkdirSync(alias);
  let mounted = false;
  afterAll(() => {
    if (mounted) execFileSync('umount', [alias]);
    rmSync(root, { recursive: true, force: true });
    rmSync(planted, { force: true });
  });

  for (const tier of ['hardened', 'gvisor'] as const) {
    describe.skipIf(!available[tier])(tier, () => {
      it('refuses a writable grant of the cache, of its parent and of a bind mount of it; nothing is planted', async () => {
        // The tier's first start builds the cache if it is not there yet.
        expect((await oacpCli(['run', '--tier', tier, '--', '/bin/true'])).code).toBe(0);
        if (!mounted) {
          execFileSync('mount', ['--bind', cache, alias]);
          mounted = true;
        }
        for (const [grant, dir] of [
          [cache, cache],
          [dirname(cache), cache],
          [alias, alias],
        ]) {
          const result = await oacpCli([
            'run',
            '--tier',
            tier,
            '--allow-files',
            `${grant}:rw`,
            '--',
            '/usr/bin/touch',
            join(dir ?? cache, MARK),
          ]);
          expect(result.code).not.toBe(0);
          expect(result.stderr).toMatch(/launcher cache/);
          expect(existsSync(planted)).toBe(false);
        }
      });

      it('still lets a read-only grant of it through', async () => {
        const result = await oacpCli(['run', '--tier', tier, '--allow-files', cache, '--', '/bin/ls', cache]);
        expect(result.code).toBe(0);
        expect(result.stdout).toContain('oacp-launch-');
      });
    });
  }

  it('refuses a regular user a writable grant of their own cache (~/.cache)', async () => {
    if (!available.hardened) return;
    const home = join(root, 'user-home');
    mkdirSync(join(home, '.cache'), { recursive: true });
    execFileSync('chown', ['-R', `${REGULAR_USER.uid}:${REGULAR_USER.gid}`, home]);
    const result = await oacpCli(
      ['run', '--tier', 'hardened', '--allow-files', `${join(home, '.cache')}:rw`, '--', '/bin/true'],
      { env: { HOME: home }, asUser: REGULAR_USER },
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`launcher cache ${join(home, '.cache', 'oacp')}`);
  });
});
