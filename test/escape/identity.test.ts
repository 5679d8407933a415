import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { isWorkloadId, WORKLOAD_ID } from '../../src/airlock/native/identity.js';
import { isRoot } from './confine-harness.js';
import { type AttackedTier, manifest, PYTHON, run } from './native-harness.js';

/**
 * Issue 9, items 3 and 4: a root operator's private (0700, root-owned)
 * grants work in both confined tiers while the workload is the dedicated
 * WORKLOAD_ID, never host root; what it writes there is root's on the host
 * and never set-id.
 */
const TIERS: Record<
  'hardened' | 'gvisor',
  AttackedTier & { availability(): Promise<{ available: boolean }> }
> = { hardened: new HardenedTier(), gvisor: new GvisorTier() };
const available = {
  hardened: (await TIERS.hardened.availability()).available,
  gvisor: (await TIERS.gvisor.availability()).available,
};

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Like `mktemp -d` as root: 0700, root-owned, with a root-only file in it. */
function privateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-private-'));
  made.push(dir);
  writeFileSync(join(dir, 'in.txt'), 'from host', { mode: 0o600 });
  return dir;
}

/** Host processes whose command line contains `marker`, with their real/effective uids from /proc/PID/status. */
function hostProcesses(marker: string): { pid: number; uids: number[] }[] {
  const found: { pid: number; uids: number[] }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.includes(marker) || cmdline.includes('bwrap')) continue;
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const uids = (/^Uid:\s+(.*)$/m.exec(status)?.[1] ?? '').split(/\s+/).map(Number);
      found.push({ pid: Number(entry), uids });
    } catch {
      // The process ended between listing and reading.
    }
  }
  return found;
}

for (const tierName of ['hardened', 'gvisor'] as const) {
  const tier = TIERS[tierName];
  describe.skipIf(!isRoot || !available[tierName])(`${tierName}: identity as root`, () => {
    it('a 0700 root grant works read/write while the workload is the dedicated uid, not root', async () => {
      const dir = privateDir();
      const result = await run(tier, {
        command: '/bin/sh',
        args: [
          '-c',
          `id -u; id -g; cat ${dir}/in.txt; echo; echo written > ${dir}/out.txt; mkdir ${dir}/sub && echo deep > ${dir}/sub/f; grep CapEff /proc/self/status`,
        ],
        manifest: manifest({ file_read: [], file_write: [`${dir}/**`] }),
      });
      expect(result.out).toContain(`${WORKLOAD_ID}\n${WORKLOAD_ID}\nfrom host\n`);
      expect(result.out).toMatch(/CapEff:\s+0000000000000000/);
      for (const path of ['out.txt', 'sub', 'sub/f']) {
        const stat = statSync(join(dir, path));
        // On the host the operator's own files: root's, never the workload id's, never set-id.
        expect([path, stat.uid, stat.gid, stat.mode & 0o7000]).toEqual([path, 0, 0, 0]);
      }
      expect(readFileSync(join(dir, 'sub/f'), 'utf8')).toBe('deep\n');
    });

    it('set-id bits, device nodes and file capabilities cannot be planted on the host through the idmap', async () => {
      const dir = privateDir();
      const script = [
        `cp /usr/bin/id ${dir}/x && chmod 6755 ${dir}/x; echo chmod=$?`,
        `chmod g+s ${dir}; echo chmod-dir=$?`,
        `${PYTHON} -c "import os; os.close(os.open('${dir}/y', os.O_CREAT|os.O_WRONLY, 0o4755))"; echo creat=$?`,
        `mknod ${dir}/null c 1 3; echo mknod=$?`,
        `${PYTHON} -c "import os; os.setxattr('${dir}/x', 'security.capability', bytes.fromhex('0000000200000080000000000000000000000000'))"; echo setcap=$?`,
      ].join('\n');
      const result = await run(tier, {
        command: '/bin/sh',
        args: ['-c', script],
        manifest: manifest({ file_read: [], file_write: [`${dir}/**`] }),
      });
      expect(result.out).toMatch(/chmod=1/);
      expect(result.out).toMatch(/creat=1/);
      expect(result.out).toMatch(/setcap=1/);
      expect(existsSync(join(dir, 'null'))).toBe(false);
      expect(statSync(dir).mode & 0o7000).toBe(0);
      for (const name of ['x', 'y']) {
        if (!existsSync(join(dir, name))) continue;
        expect(statSync(join(dir, name)).mode & 0o6000).toBe(0);
        expect(() => readFileSync(join(dir, name)).length).not.toThrow();
      }
    });

    it('a read-only root grant: its root-only (0600) files are granted and readable, nothing is writable', async () => {
      // The operator granted the directory, so its contents are granted (docs/hardened-tier.md, "Identity").
      const dir = privateDir();
      const result = await run(tier, {
        command: '/bin/sh',
        args: [
          '-c',
          `cat ${dir}/in.txt; echo; echo x > ${dir}/new; echo write=$?; rm ${dir}/in.txt; echo rm=$?`,
        ],
        manifest: manifest({ file_read: [`${dir}/**`], file_write: [] }),
      });
      expect(result.out).toContain('from host\n');
      expect(result.out).toMatch(/write=[12]/);
      expect(result.out).toMatch(/rm=1/);
      expect(readdirSync(dir)).toEqual(['in.txt']);
    });

    it('a root 0600 file in a world-readable (0755) root grant stays unreadable: that grant is not idmapped', async () => {
      const dir = privateDir();
      chmodSync(dir, 0o755);
      writeFileSync(join(dir, 'public.txt'), 'public', { mode: 0o644 });
      const result = await run(tier, {
        command: '/bin/sh',
        args: ['-c', `id -u; cat ${dir}/public.txt; echo; cat ${dir}/in.txt; echo rc=$?`],
        manifest: manifest({ file_read: [`${dir}/**`], file_write: [] }),
      });
      expect(result.out).toContain(`${WORKLOAD_ID}\npublic\n`);
      expect(result.out).not.toContain('from host');
      expect(result.out).toContain('rc=1');
    });
  });
}

/** A 0700 ramfs: a filesystem without idmapped mounts. */
function ramfs(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-ramfs-'));
  try {
    execFileSync('mount', ['-t', 'ramfs', '-o', 'mode=0700', 'none', dir], { stdio: 'ignore' });
    writeFileSync(join(dir, 'in.txt'), 'on ramfs', { mode: 0o600 });
    return dir;
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

describe.skipIf(!isRoot || !available.hardened)(
  'a private grant on a filesystem without idmapped mounts',
  () => {
    it('is refused, naming the opt-out; with --allow-unenforced identity it runs as the owner', async () => {
      const dir = ramfs();
      if (dir === undefined) return;
      try {
        const spec = (allow: string[]) => ({
          command: '/bin/sh',
          args: ['-c', `id -u; cat ${dir}/in.txt`],
          // ramfs has no block device to throttle either.
          manifest: manifest({ file_read: [], file_write: [`${dir}/**`] }, {}, { allow_unenforced: allow }),
        });
        await expect(run(TIERS.hardened, spec(['disk_io']))).rejects.toThrow(
          /cannot make idmapped mounts there.*--allow-unenforced identity/,
        );
        const result = await run(TIERS.hardened, spec(['disk_io', 'identity']));
        expect(result.out).toBe('0\non ramfs');
      } finally {
        execFileSync('umount', [dir]);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);

describe.skipIf(!isRoot || !available.hardened)('hardened: the host sees a dedicated uid', () => {
  it('the workload process on the host has real and effective uid a leased id above WORKLOAD_ID', async () => {
    const dir = privateDir();
    const marker = `${31 + Math.floor(Math.random() * 1000)}.${randomUUID().replace(/\D/g, '').slice(0, 6)}`;
    const sandbox = await TIERS.hardened.start({
      command: '/bin/sleep',
      args: [marker],
      env: {},
      cwd: dir,
      manifest: manifest({ file_read: [], file_write: [`${dir}/**`] }),
    });
    try {
      let seen: { pid: number; uids: number[] }[] = [];
      for (let attempt = 0; attempt < 100 && seen.length === 0; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        seen = hostProcesses(`sleep\0${marker}`);
      }
      expect(seen.length).toBe(1);
      const [uid = -1] = seen[0]?.uids ?? [];
      expect(isWorkloadId(uid) && uid !== WORKLOAD_ID).toBe(true);
      expect(seen[0]?.uids).toEqual([uid, uid, uid, uid]);
    } finally {
      await sandbox.stop();
    }
  });
});
