import { execFile } from 'node:child_process';
import { chmodSync, chownSync, linkSync, mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { CLI, isRoot, openDir } from './confine-harness.js';

/**
 * Issue 9, item 2 (never the OACP home, whatever any grant says): the home
 * guard knew the home it was given, `$OACP_HOME` and `$HOME/.oacp`, so root
 * granting another account's private home (`/home/alice`, 0700: root's
 * grants of private directories work, item 3) showed alice's OACP home, her
 * master key included, to the sandbox. Every account's `~/.oacp` is guarded,
 * found through /etc/passwd rather than `$HOME`. The account is made up: the
 * CLI runs in its own mount namespace where /etc/passwd lists it (root only).
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};
const SECRET = 'ALICE-OACP-MASTER-KEY';

describe.skipIf(!isRoot)("another account's OACP home inside a grant", () => {
  const root = openDir('oacp-other-home-');
  const home = join(root, 'alice');
  const passwd = join(root, 'passwd');
  // In beforeAll, not here: a skipped suite's body still runs at collection, and chown needs root.
  beforeAll(() => {
    mkdirSync(join(home, '.oacp'), { recursive: true });
    writeFileSync(join(home, 'notes.txt'), 'ordinary file');
    writeFileSync(join(home, '.oacp', 'master.key'), SECRET, { mode: 0o600 });
    for (const path of [
      home,
      join(home, '.oacp'),
      join(home, 'notes.txt'),
      join(home, '.oacp', 'master.key'),
    ])
      chownSync(path, 1234, 1234);
    chmodSync(home, 0o700);
    chmodSync(join(home, '.oacp'), 0o700);
    writeFileSync(passwd, `root:x:0:0:root:/root:/bin/sh\nalice:x:1234:1234::${home}:/bin/sh\n`);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const withAccount = (
    args: readonly string[],
    as: readonly string[] = [],
  ): Promise<{ code: number; out: string }> =>
    new Promise((resolve) => {
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
          ...args,
        ],
        // HOME names neither alice's home nor root's: the guard must not go by it.
        { env: { PATH: '/usr/bin:/bin', HOME: root }, timeout: 120_000 },
        (error, stdout, stderr) =>
          resolve({
            code: typeof error?.code === 'number' ? error.code : error ? 1 : 0,
            out: stdout + stderr,
          }),
      );
    });

  for (const tier of ['hardened', 'gvisor'] as const) {
    it.skipIf(!available[tier])(`${tier}: a grant of her home is refused, naming her OACP home`, async () => {
      const result = await withAccount([
        'run',
        '--no-receipt',
        '--tier',
        tier,
        '--allow-files',
        home,
        '--',
        '/bin/cat',
        join(home, '.oacp', 'master.key'),
      ]);
      expect(result.out).not.toContain(SECRET);
      expect(result.code).not.toBe(0);
      expect(result.out).toContain(`overlaps the OACP home ${join(home, '.oacp')}`);
      // A grant beside her OACP home still works: the guard is about the home, not the account.
      const beside = await withAccount([
        'run',
        '--no-receipt',
        '--tier',
        tier,
        '--allow-files',
        join(home, 'notes.txt'),
        '--',
        '/bin/cat',
        join(home, 'notes.txt'),
      ]);
      expect(beside.out).toContain('ordinary file');
      expect(beside.code).toBe(0);
    });
  }

  it.skipIf(!available.hardened)(
    "her home cannot stop anyone else's sandboxes: a second name of her key, or a home another user cannot read, refuses nothing",
    async () => {
      const second = join(home, 'key-backup');
      linkSync(join(home, '.oacp', 'master.key'), second);
      try {
        const asRoot = await withAccount([
          'run',
          '--no-receipt',
          '--tier',
          'hardened',
          '--',
          '/bin/echo',
          'started',
        ]);
        expect(asRoot.out).toContain('started');
        expect(asRoot.code).toBe(0);
      } finally {
        unlinkSync(second);
      }
      chmodSync(home, 0o755);
      try {
        const asUser = await withAccount(
          [
            'run',
            '--no-receipt',
            '--no-receipt',
            '--tier',
            'hardened',
            '--allow-unenforced',
            'memory,pids,cpu',
            '--',
            '/bin/echo',
            'started',
          ],
          ['setpriv', '--reuid=1000', '--regid=1000', '--clear-groups'],
        );
        expect(asUser.out).toContain('started');
        expect(asUser.code).toBe(0);
      } finally {
        chmodSync(home, 0o700);
      }
    },
  );
});
