import { execFile } from 'node:child_process';
import { chownSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { CLI, isRoot, oacpCli, openDir, uidListed } from './confine-harness.js';

/**
 * Issue 9, item 2 (never the OACP home), through the home registry under another name: a
 * writable grant overlapping a registry was refused by path only, so a bind mount of the
 * registry's directory (an admin's `mount --bind ~/.config/oacp /mnt/view`, a container volume)
 * let a workload given `/mnt/view:rw` delete the entries, after which a grant far above a
 * registered home showed its master key. The registries are now guarded by identity (device and
 * inode, on what was opened) like the homes and the launcher cache. Run as a uid with no passwd
 * entry, whose registry is under a scratch `$HOME`; the bind mount is made in a private mount
 * namespace (root only).
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};
const tiers = (['hardened', 'gvisor'] as const).filter((tier) => available[tier]);
const NAMELESS = { uid: 1242, gid: 1242 };

describe.skipIf(!isRoot || uidListed(NAMELESS.uid) || tiers.length === 0)(
  'a home registry under a bind mount',
  () => {
    const root = openDir('oacp-registry-binds-');
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    /** `oacp run` in a mount namespace where `view` shows `source`, as the nameless uid. */
    const throughMount = (source: string, view: string, args: readonly string[], home: string) =>
      new Promise<{ code: number; out: string }>((resolve) => {
        execFile(
          'unshare',
          [
            '--mount',
            '--propagation',
            'private',
            'sh',
            '-c',
            'mount --bind "$0" "$1" && shift && exec "$@"',
            source,
            view,
            'setpriv',
            `--reuid=${NAMELESS.uid}`,
            `--regid=${NAMELESS.gid}`,
            '--clear-groups',
            process.execPath,
            CLI,
            'run',
            '--no-receipt',
            '--allow-unenforced',
            'memory,pids,cpu,disk_io',
            ...args,
          ],
          { env: { PATH: '/usr/bin:/bin', HOME: home }, timeout: 120_000 },
          (error, stdout, stderr) =>
            resolve({
              code: typeof error?.code === 'number' ? error.code : error ? 1 : 0,
              out: stdout + stderr,
            }),
        );
      });

    it('refuses a writable grant of the mount and of a directory holding it, in every tier; read-only is granted', async () => {
      const user = join(root, 'user');
      const outer = join(root, 'outer');
      const view = join(outer, 'view');
      for (const dir of [user, outer, view, join(root, 'srv')]) {
        mkdirSync(dir);
        chownSync(dir, NAMELESS.uid, NAMELESS.gid);
      }
      const init = await oacpCli(['init'], {
        env: { HOME: user, OACP_HOME: join(root, 'srv', 'a', 'b', 'c', 'oacp') },
        asUser: NAMELESS,
      });
      expect(init.code, init.stderr).toBe(0);
      const registry = join(user, '.config', 'oacp', 'homes.d');
      const entries = readdirSync(registry);
      expect(entries.length).toBe(1);
      for (const tier of tiers) {
        for (const grant of [view, outer]) {
          const attack = await throughMount(
            join(user, '.config', 'oacp'),
            view,
            [
              '--tier',
              tier,
              '--allow-files',
              `${grant}:rw`,
              '--',
              '/bin/sh',
              '-c',
              `rm -rf ${view}/homes.d/*`,
            ],
            user,
          );
          expect(attack.code, `${tier} ${grant}`).not.toBe(0);
          expect(attack.out, `${tier} ${grant}`).toMatch(/OACP's home registry/);
          expect(readdirSync(registry), `${tier} ${grant}`).toEqual(entries);
        }
        const read = await throughMount(
          join(user, '.config', 'oacp'),
          view,
          ['--tier', tier, '--allow-files', `${view}:ro`, '--', '/bin/ls', join(view, 'homes.d')],
          user,
        );
        expect(read.out.trim(), tier).toBe(entries[0]);
        expect(read.code, tier).toBe(0);
      }
    }, 240_000);
  },
);
