import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { tmpfsInodes } from '../../src/airlock/native/tmpfs-inodes.js';
import { ATTACKERS, isRoot, oacpCli, openDir, who } from './confine-harness.js';
import { PYTHON } from './native-harness.js';

/**
 * Empty files cost no tmpfs size but each is an inode and a dentry of kernel memory: with memory opted out
 * (uid 1000 on a cgroup v1 host), 400k of them in /tmp held ~330 MB the host could not reclaim. The sandbox's
 * /tmp and /dev/shm must refuse files past their inode cap, whoever runs it.
 */
const availability = await new HardenedTier().availability();
const skip = !availability.available || !existsSync(PYTHON);
if (skip)
  console.log(
    'skipping tmpfs inode caps:',
    availability.available ? `${PYTHON} missing` : availability.reason,
  );

const TMP_MB = 8;
const LIMIT = 100_000;
// Creates empty files until the kernel refuses one, then reports how many it made, why it stopped, and the
// file system's own inode count (statvfs f_files).
const FLOOD = (dir: string) =>
  `import os\nn = 0\nwhy = "never refused"\nwhile n < ${LIMIT}:\n  try:\n    os.close(os.open("${dir}/f%d" % n, os.O_CREAT | os.O_WRONLY))\n  except OSError as e:\n    why = e.strerror\n    break\n  n += 1\nprint(n, os.statvfs("${dir}").f_files, why)`;

describe.skipIf(skip)('hardened tier tmpfs inode caps', () => {
  for (const user of ATTACKERS) {
    it(`refuses files past the inode cap in /tmp and /dev/shm (${who(user)}, through the CLI)`, async () => {
      const dir = openDir('oacp-inodes-');
      try {
        const file = join(dir, 'inodes.yaml');
        writeFileSync(
          file,
          `apiVersion: oacp.dev/v1\nkind: CapabilityManifest\nname: inodes\nquotas:\n  tmp_mb: ${TMP_MB}\n`,
        );
        const script = `${FLOOD('/tmp')}\n${FLOOD('/dev/shm')}`;
        // A regular invoker on a cgroup v1 host must opt out of memory (the case this cap exists for); oacpCli
        // opts out for `asUser` itself.
        const optOut = isRoot ? [] : ['--allow-unenforced', 'memory,pids,cpu,disk_io'];
        const result = await oacpCli(['run', ...optOut, '--manifest', file, '--', PYTHON, '-c', script], {
          env: { HOME: dir, OACP_HOME: join(dir, 'home') },
          ...(user === undefined ? {} : { asUser: user }),
        });
        const bound = tmpfsInodes(TMP_MB);
        const lines = result.stdout.trim().split('\n');
        expect(lines, result.stderr).toHaveLength(2);
        for (const line of lines) {
          const [made, files, ...why] = line.split(' ');
          // The root directory takes one inode of the cap; anything already in /tmp (none today) another.
          expect(Number(made)).toBeGreaterThan(bound - 16);
          expect(Number(made)).toBeLessThan(bound);
          expect(Number(files)).toBe(bound);
          expect(why.join(' ')).toBe('No space left on device');
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);
  }
});
