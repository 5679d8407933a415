import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { isRoot, oacpCli, openDir, REGULAR_USER } from './confine-harness.js';

/**
 * Issue 9 (round 3, item 4): coreutils work inside `--tier gvisor`. This
 * host's runsc refuses AT_NO_AUTOMOUNT in statx/fstatat with EINVAL and
 * `ls`/`stat` always pass it, so both failed on every path until the compat
 * library (src/airlock/gvisor/compat-library.ts) cleared the flag. Through
 * the real CLI, as root and as a regular user, with a private (0700) grant.
 */
const available = (await new GvisorTier().availability()).available;
const users = isRoot ? [undefined, REGULAR_USER] : [undefined];

describe.skipIf(!available)('gvisor: coreutils on a granted directory', () => {
  const root = openDir('oacp-gvisor-coreutils-');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  for (const user of users) {
    it(`ls -la and stat work (${user === undefined ? 'invoker' : `uid ${user.uid}`})`, async () => {
      const dir = join(root, `grant-${user?.uid ?? 'self'}`);
      mkdirSync(dir, { mode: 0o700 });
      writeFileSync(join(dir, 'file.txt'), 'twelve bytes');
      if (user !== undefined) execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, dir]);
      const result = await oacpCli(
        [
          'run',
          '--tier',
          'gvisor',
          '--allow-files',
          dir,
          '--',
          '/bin/sh',
          '-c',
          `ls -la ${dir} && stat -c 'size=%s type=%F' ${dir}/file.txt && stat -c 'dir=%F' ${dir}`,
        ],
        { env: { HOME: root }, ...(user === undefined ? {} : { asUser: user }) },
      );
      expect([result.code, result.stderr]).toEqual([0, '']);
      expect(result.stdout).toMatch(/^-rw\S* +1 +\S+ +\S+ +12 .* file\.txt$/m);
      expect(result.stdout).toContain('size=12 type=regular file');
      expect(result.stdout).toContain('dir=directory');
    });
  }
});
