import { execFile } from 'node:child_process';
import { chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { ATTACKERS, CLI, isRoot, oacpCli, openDir, who } from './confine-harness.js';

/**
 * Issue 9, item 2 (never the OACP home, also under another name), for homes the registry knows
 * rather than the invocation names: only the named homes were guarded by identity, so a bind
 * mount of a directory above a registered home (an admin's `mount --bind /srv/svc /mnt/view`, a
 * container's volume) showed the home three levels down to a grant of the mount, of a directory
 * holding it, or of a directory inside it: the path check knows the home by its own name only,
 * and the marker look goes two levels down. Registered and account homes are now guarded by
 * identity too. The bind mount is made in a private mount namespace (root only).
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};
const tiers = (['hardened', 'gvisor'] as const).filter((tier) => available[tier]);

describe.skipIf(!isRoot || tiers.length === 0)('a registered home under a bind mount', () => {
  const root = openDir('oacp-registered-binds-');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** `oacp` in a mount namespace where `view` shows `svc`, as `user`. */
  const throughMount = (
    svc: string,
    view: string,
    args: readonly string[],
    user: (typeof ATTACKERS)[number],
    env: Record<string, string>,
  ) =>
    new Promise<{ code: number; out: string; stdout: string }>((resolve) => {
      const as =
        user === undefined ? [] : ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups'];
      const optOut = user === undefined ? [] : ['--allow-unenforced', 'memory,pids,cpu'];
      const [command = 'run', ...rest] = args;
      execFile(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount --bind "$0" "$1" && shift && exec "$@"',
          svc,
          view,
          ...as,
          process.execPath,
          CLI,
          command,
          '--no-receipt',
          ...optOut,
          ...rest,
        ],
        { env: { PATH: '/usr/bin:/bin', ...env }, timeout: 120_000 },
        (error, stdout, stderr) =>
          resolve({
            code: typeof error?.code === 'number' ? error.code : error ? 1 : 0,
            out: stdout + stderr,
            stdout,
          }),
      );
    });

  for (const user of ATTACKERS) {
    it(`refuses a grant of the mount, of a directory holding it and of one inside it (${who(user)})`, async () => {
      const base = join(root, user === undefined ? 'invoker' : 'regular');
      const operator = join(base, 'operator');
      const svc = join(base, 'svc');
      const outer = join(base, 'outer');
      const view = join(outer, 'view');
      for (const dir of [base, operator, svc, outer, view]) {
        mkdirSync(dir);
        if (user !== undefined) chownSync(dir, user.uid, user.gid);
      }
      writeFileSync(join(svc, 'readme'), 'ordinary file', { mode: 0o644 });
      const home = join(svc, 'a', 'b', 'c', 'oacp');
      const env = { HOME: operator };
      const init = await oacpCli(['init'], {
        env: { ...env, OACP_HOME: home },
        ...(user === undefined ? {} : { asUser: user }),
      });
      expect(init.code, init.stderr).toBe(0);
      const key = join(view, 'a', 'b', 'c', 'oacp', 'master.key');
      for (const tier of tiers) {
        for (const grant of [view, outer, join(view, 'a')]) {
          const attack = await throughMount(
            svc,
            view,
            ['run', '--tier', tier, '--allow-files', grant, '--', '/usr/bin/od', '-An', '-tx1', key],
            user,
            env,
          );
          expect(attack.stdout, `${tier} ${grant}`).toBe('');
          expect(attack.code, `${tier} ${grant}`).not.toBe(0);
          expect(attack.out, `${tier} ${grant}`).toMatch(
            /which holds the OACP home, under another name \(bind mount\)|which shows .* of the OACP home/,
          );
        }
        // A file beside the home, through the same mount, is still granted.
        const beside = await throughMount(
          svc,
          view,
          [
            'run',
            '--tier',
            tier,
            '--allow-files',
            join(view, 'readme'),
            '--',
            '/bin/cat',
            join(view, 'readme'),
          ],
          user,
          env,
        );
        expect(beside.out, tier).toBe('ordinary file');
        expect(beside.code, tier).toBe(0);
      }
    }, 240_000);
  }
});
