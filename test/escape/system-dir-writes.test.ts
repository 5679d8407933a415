import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { isRoot, oacpCli, REGULAR_USER } from './confine-harness.js';

/**
 * Issue 9: as root, `--allow-files /usr/bin:rw` (any system directory) was
 * accepted and the workload wrote there as host root through the idmapped
 * grant, able to replace a binary the host runs later. Both confined tiers
 * now refuse it, naming the grant and the read-only way out; uid 1000 is not
 * refused (its writes land as uid 1000) and gets EACCES from the kernel.
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};

const made: string[] = [];
afterEach(() => {
  for (const path of made.splice(0)) rmSync(path, { recursive: true, force: true });
});

/** A root-owned 0755 directory under /opt, as a package would install: the dedicated sandbox id cannot write it. */
function optDir(): string {
  const dir = mkdtempSync('/opt/oacp-sysdir-');
  chmodSync(dir, 0o755);
  made.push(dir);
  return dir;
}

for (const tier of ['hardened', 'gvisor'] as const) {
  describe.skipIf(!isRoot || !available[tier])(`${tier}: writable system-directory grants`, () => {
    it('as root, refuses a writable grant under /opt before anything runs, naming the grant and the way out', async () => {
      const dir = optDir();
      const result = await oacpCli([
        'run',
        '--tier',
        tier,
        '--allow-files',
        `${dir}:rw`,
        '--',
        '/bin/sh',
        '-c',
        `echo pwned > ${dir}/planted`,
      ]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(`grant ${dir}:rw is under the system directory /opt`);
      expect(result.stderr).toContain('uid 0 gid 0');
      expect(result.stderr).toContain(`--allow-files ${dir},`);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(`${dir}/planted`)).toBe(false);
    });

    it('as root, refuses --allow-files /usr/bin:rw: no workload replaces a host binary', async () => {
      const planted = `/usr/bin/oacp-planted-${randomUUID()}`;
      made.push(planted);
      const result = await oacpCli([
        'run',
        '--tier',
        tier,
        '--allow-files',
        '/usr/bin:rw',
        '--',
        '/bin/sh',
        '-c',
        `echo pwned > ${planted}`,
      ]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('grant /usr/bin:rw is under the system directory /usr');
      expect(existsSync(planted)).toBe(false);
    });

    it('as uid 1000 the grant is not refused (writes would land as uid 1000) and the kernel says EACCES', async () => {
      const dir = optDir();
      const result = await oacpCli(
        [
          'run',
          '--tier',
          tier,
          '--allow-files',
          `${dir}:rw`,
          '--',
          '/bin/sh',
          '-c',
          `echo pwned > ${dir}/planted; echo status=$?`,
        ],
        { asUser: REGULAR_USER },
      );
      expect(result.stderr).not.toContain('system directory');
      expect(result.stderr).toContain('Permission denied');
      expect(result.stdout).toContain('status=2');
      expect(existsSync(`${dir}/planted`)).toBe(false);
    });
  });
}
