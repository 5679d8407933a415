import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { isRoot, oacpCli } from './confine-harness.js';

/**
 * Issue 9: the writable system-directory check compared names only, so as
 * root a bind mount of a system directory under another name
 * (`mount --bind /opt/app /srv/alias`, then `--allow-files /srv/alias:rw`)
 * passed and the workload wrote into /opt as host root through the idmapped
 * grant. The grant is now also placed on its filesystem (device and path from
 * mountinfo) and refused; so is a grant holding such a bind (r17: bwrap binds
 * recursively, so `/tmp/outer:rw` with `/opt/app` bound at `/tmp/outer/inner`
 * wrote /opt/app as root). Each run happens in its own mount namespace
 * (`unshare -m`), where the bind is made, so the host's mounts are untouched.
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};

const made: string[] = [];
afterEach(() => {
  for (const path of made.splice(0)) rmSync(path, { recursive: true, force: true });
});

/** A run of the CLI in a private mount namespace where `source` is bound at `alias`. */
function withBind(source: string, alias: string): string[] {
  return [
    '/usr/bin/unshare',
    '--mount',
    '--propagation',
    'private',
    '/bin/sh',
    '-c',
    `mount --bind "${source}" "${alias}" && exec "$0" "$@"`,
  ];
}

/** `oacp run --tier TIER --allow-files GRANT:rw -- /bin/sh -c SCRIPT` where `source` is bound at `alias`. */
function runBound(tier: 'hardened' | 'gvisor', source: string, alias: string, grant: string, script: string) {
  return oacpCli(['run', '--tier', tier, '--allow-files', `${grant}:rw`, '--', '/bin/sh', '-c', script], {
    within: withBind(source, alias),
  });
}

/** A fresh directory, removed after the test. */
function scratch(prefix: string): string {
  const dir = mkdtempSync(prefix);
  made.push(dir);
  return dir;
}

for (const tier of ['hardened', 'gvisor'] as const) {
  describe.skipIf(!isRoot || !available[tier])(`${tier}: a system directory bound under another name`, () => {
    it('as root, refuses a writable grant of a bind of a directory under /opt, and nothing is written', async () => {
      const dir = scratch('/opt/oacp-sysbind-');
      chmodSync(dir, 0o755);
      const alias = scratch('/tmp/oacp-alias-');
      const result = await runBound(tier, dir, alias, alias, `echo pwned > ${alias}/planted`);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(
        `grant ${alias}:rw shows ${dir} of the filesystem that holds the system directory /opt`,
      );
      expect(result.stderr).toContain('uid 0 gid 0');
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(`${dir}/planted`)).toBe(false);
    });

    it('as root, refuses a writable grant that holds a bind of a directory under /opt (bound with it), and nothing is written', async () => {
      // A build chroot's way: its usr/ (here a folder of /opt) bound inside the granted directory.
      const dir = scratch('/opt/oacp-sysbind-');
      chmodSync(dir, 0o755);
      const outer = scratch('/tmp/oacp-outer-');
      mkdirSync(`${outer}/inner`);
      const result = await runBound(
        tier,
        dir,
        `${outer}/inner`,
        outer,
        `echo pwned > ${outer}/inner/planted`,
      );
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(
        `grant ${outer}:rw holds a mount at ${outer}/inner that shows ${dir} of the filesystem that holds the system directory /opt`,
      );
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(`${dir}/planted`)).toBe(false);
    });

    it('as root with the fallback identity (root), refuses a writable grant of an overlay whose upper directory is under /opt, and nothing is written', async () => {
      const upper = scratch('/opt/oacp-sysupper-');
      const work = scratch('/opt/oacp-syswork-');
      const lower = scratch('/tmp/oacp-lower-');
      const merged = scratch('/tmp/oacp-merged-');
      const result = await oacpCli(
        [
          'run',
          '--tier',
          tier,
          '--allow-unenforced',
          'identity,disk_io',
          '--allow-files',
          `${merged}:rw`,
          '--',
          '/bin/sh',
          '-c',
          `echo pwned > ${merged}/planted`,
        ],
        {
          within: [
            '/usr/bin/unshare',
            '--mount',
            '--propagation',
            'private',
            '/bin/sh',
            '-c',
            `mount -t overlay -o lowerdir=${lower},upperdir=${upper},workdir=${work} overlay ${merged} && exec "$0" "$@"`,
          ],
        },
      );
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(
        `grant ${merged}:rw writes through the overlay at ${merged} into its upper directory ${upper}, which overlaps the system directory /opt`,
      );
      expect(existsSync(`${upper}/planted`)).toBe(false);
    });

    it('as root, refuses a writable grant of a bind of /usr/lib', async () => {
      const alias = scratch('/tmp/oacp-alias-');
      const result = await runBound(tier, '/usr/lib', alias, alias, 'true');
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(
        /shows \/usr\/lib of the filesystem that holds the system directory \/(usr|lib)/,
      );
    });

    it('as root, still runs a writable grant of a bind of a data directory', async () => {
      const data = scratch('/tmp/oacp-data-');
      const alias = scratch('/tmp/oacp-alias-');
      mkdirSync(`${data}/sub`);
      const result = await runBound(tier, data, alias, alias, `echo ok > ${alias}/sub/written`);
      expect(result.stderr).not.toContain('system directory');
      expect(result.code).toBe(0);
      expect(existsSync(`${data}/sub/written`)).toBe(true);
    });
  });
}
