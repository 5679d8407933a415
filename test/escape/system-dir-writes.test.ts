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

/** A writable grant, the file a workload run under it tries to write, and what must come of it. */
interface Case {
  readonly name: string;
  /** The directory granted `:rw` and the file the workload writes there (made fresh per run). */
  readonly target: () => { readonly grant: string; readonly planted: string };
  readonly user?: typeof REGULAR_USER;
  /** What the refusal must say, for the grant; undefined: the grant is not refused. */
  readonly refusal?: (grant: string) => readonly string[];
}

const CASES: readonly Case[] = [
  {
    name: 'as root, refuses a writable grant under /opt before anything runs, naming the grant and the way out',
    target: () => {
      const dir = optDir();
      return { grant: dir, planted: `${dir}/planted` };
    },
    refusal: (dir) => [
      `grant ${dir}:rw is under the system directory /opt`,
      'uid 0 gid 0',
      `--allow-files ${dir},`,
    ],
  },
  {
    name: 'as root, refuses --allow-files /usr/bin:rw: no workload replaces a host binary',
    target: () => {
      const planted = `/usr/bin/oacp-planted-${randomUUID()}`;
      made.push(planted);
      return { grant: '/usr/bin', planted };
    },
    refusal: () => ['grant /usr/bin:rw is under the system directory /usr'],
  },
  {
    // r17: /run was not on the list, so a root-owned runtime directory there (where systemd reads
    // /run/systemd/system units, udev /run/udev/rules.d) was written as root through the idmapped grant.
    name: 'as root, refuses a writable grant of a root directory under /run, where root services read units and rules',
    target: () => {
      const dir = mkdtempSync('/run/oacp-sysdir-');
      chmodSync(dir, 0o700);
      made.push(dir);
      return { grant: dir, planted: `${dir}/planted.service` };
    },
    refusal: (dir) => [`grant ${dir}:rw is under the system directory /run`, 'uid 0 gid 0'],
  },
  {
    name: 'as uid 1000 the grant is not refused (writes would land as uid 1000) and the kernel says EACCES',
    target: () => {
      const dir = optDir();
      return { grant: dir, planted: `${dir}/planted` };
    },
    user: REGULAR_USER,
  },
];

for (const tier of ['hardened', 'gvisor'] as const) {
  describe.skipIf(!isRoot || !available[tier])(`${tier}: writable system-directory grants`, () => {
    it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, { target, user, refusal }) => {
      const { grant, planted } = target();
      const result = await oacpCli(
        [
          'run',
          '--tier',
          tier,
          '--allow-files',
          `${grant}:rw`,
          '--',
          '/bin/sh',
          '-c',
          `echo pwned > ${planted}; echo status=$?`,
        ],
        user === undefined ? {} : { asUser: user },
      );
      if (refusal === undefined) {
        expect(result.stderr).not.toContain('system directory');
        expect(result.stderr).toContain('Permission denied');
        expect(result.stdout).toContain('status=2');
      } else {
        expect(result.code).not.toBe(0);
        for (const text of refusal(grant)) expect(result.stderr).toContain(text);
        expect(result.stderr).not.toMatch(/\n\s+at /);
      }
      expect(existsSync(planted)).toBe(false);
    });
  });
}
