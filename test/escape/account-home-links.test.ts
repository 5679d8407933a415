import { execFile } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  lchownSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { ATTACKERS, CLI, isRoot, openDir, who } from './confine-harness.js';

/**
 * Issue 9, item 2 (the home guard) turned against its owners: every account's `~/.oacp` (from
 * /etc/passwd) was guarded by its real path once it existed, so any local account could make its
 * `~/.oacp` a symlink to `/` and every grant of every other account's sandboxes (root's included)
 * "overlapped the OACP home /" and was refused; a link to one directory refused that directory.
 * A `~/.oacp` now counts only where its real path holds a home's marker files (master.key,
 * keys/airlock.json): a real home behind a link is still guarded. The accounts are made up: the
 * CLI runs in its own mount namespace where /etc/passwd lists them (root only).
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};
const tiers = (['hardened', 'gvisor'] as const).filter((tier) => available[tier]);
const SECRET = 'ALICE-OACP-MASTER-KEY';

describe.skipIf(!isRoot || tiers.length === 0)("another account's ~/.oacp as a symlink", () => {
  const root = openDir('oacp-home-links-');
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const data = join(root, 'data');
  const aliceHome = join(root, 'alice-keys');
  const passwd = join(root, 'passwd');
  // In beforeAll, not here: a skipped suite's body still runs at collection, and chown needs root.
  beforeAll(() => {
    mkdirSync(data);
    writeFileSync(join(data, 'f'), 'ordinary file');
    chmodSync(join(data, 'f'), 0o644);
    // mallory (1234) points her ~/.oacp at / and kim (1235) at the victims' data directory.
    const account = (name: string, uid: number, target: string): string => {
      const home = join(root, name);
      mkdirSync(home);
      symlinkSync(target, join(home, '.oacp'));
      chownSync(home, uid, uid);
      lchownSync(join(home, '.oacp'), uid, uid);
      return `${name}:x:${uid}:${uid}::${home}:/bin/sh\n`;
    };
    // alice (1236) keeps a real home elsewhere behind her ~/.oacp: still guarded.
    mkdirSync(join(aliceHome, 'keys'), { recursive: true });
    writeFileSync(join(aliceHome, 'master.key'), SECRET, { mode: 0o644 });
    writeFileSync(
      passwd,
      readFileSync('/etc/passwd', 'utf8') +
        account('mallory', 1234, '/') +
        account('kim', 1235, data) +
        account('alice', 1236, aliceHome),
    );
  });

  const withAccounts = (args: readonly string[], user: (typeof ATTACKERS)[number]) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      const as =
        user === undefined ? [] : ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups'];
      const optOut = user === undefined ? [] : ['--allow-unenforced', 'memory,pids,cpu'];
      const [command, ...rest] = args;
      execFile(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount --bind "$0" /etc/passwd && exec "$@"',
          passwd,
          ...as,
          process.execPath,
          CLI,
          command ?? 'run',
          ...optOut,
          ...rest,
        ],
        { env: { PATH: '/usr/bin:/bin', HOME: root }, timeout: 120_000 },
        (error, stdout, stderr) =>
          resolve({
            code: typeof error?.code === 'number' ? error.code : error ? 1 : 0,
            out: stdout + stderr,
          }),
      );
    });

  for (const user of ATTACKERS) {
    it(`refuses none of another account's grants, and still guards a real home behind a link (${who(user)})`, async () => {
      for (const tier of tiers) {
        const attacked = await withAccounts(
          ['run', '--no-receipt', '--tier', tier, '--allow-files', data, '--', '/bin/cat', join(data, 'f')],
          user,
        );
        expect(attacked.out, tier).toBe('ordinary file');
        expect(attacked.code, tier).toBe(0);
        const guarded = await withAccounts(
          [
            'run',
            '--no-receipt',
            '--tier',
            tier,
            '--allow-files',
            aliceHome,
            '--',
            '/bin/cat',
            join(aliceHome, 'master.key'),
          ],
          user,
        );
        expect(guarded.out, tier).not.toContain(SECRET);
        expect(guarded.code, tier).not.toBe(0);
        expect(guarded.out, tier).toContain(`overlaps the OACP home ${aliceHome}`);
      }
    }, 240_000);
  }
});
