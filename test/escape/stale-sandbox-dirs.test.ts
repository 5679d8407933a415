import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeOwnedDir, OWNER_LOCK, sweepStaleSandboxDirs } from '../../src/airlock/workdir/index.js';
import { withLogState } from '../log-state.js';
import { scratchDir } from '../scratch-dirs.js';

/**
 * A SIGKILLed `oacp run` cannot remove its sandbox's host directory (the egress proxy's socket);
 * the next start removes it, and nothing else: not a live sandbox's beside it, not another
 * user's, not what a symlink planted with the prefix points at. Real `oacp run`s on the hardened
 * tier, as root, with TMPDIR a sticky scratch folder (as /tmp is) so only this test's are seen.
 */
const BIN = resolve('dist/cli/main.js');
const OTHER_UID = 1000;

const exited = (child: ChildProcess): Promise<void> =>
  new Promise((done) =>
    child.exitCode !== null || child.signalCode !== null ? done() : child.on('exit', () => done()),
  );
/** The sandbox directories under `root` whose sandbox is running (its egress proxy listens). */
const sandboxDirs = (root: string): string[] =>
  readdirSync(root)
    .filter((name) => name.startsWith('oacp-hardened-') && existsSync(join(root, name, 'egress.sock')))
    .map((name) => join(root, name));
const run = (command: readonly string[]): string[] => [
  BIN,
  'run',
  '--no-receipt',
  '--tier',
  'hardened',
  // Egress: the sandbox gets its host directory (the proxy's socket); the name is never dialled.
  '--allow-network',
  'example.invalid:443',
  '--',
  ...command,
];
const env = (root: string): NodeJS.ProcessEnv => withLogState({ PATH: process.env.PATH, TMPDIR: root });

describe.skipIf(process.getuid?.() !== 0 || !existsSync(BIN))(
  'stale sandbox directories of a killed oacp',
  () => {
    it('are removed by the next start; a live one, another user’s and a symlink’s target are left', async () => {
      const root = scratchDir('oacp-sweep-root-');
      chmodSync(root, 0o1777);
      // A live sandbox beside the sweep.
      const live = spawn(process.execPath, run(['/bin/sleep', '120']), {
        stdio: 'ignore',
        env: env(root),
      });
      try {
        await expect.poll(() => sandboxDirs(root).length, { timeout: 60_000 }).toBe(1);
        const liveDir = sandboxDirs(root)[0] ?? '';
        expect(existsSync(join(liveDir, 'egress.sock'))).toBe(true);

        // The fault: oacp killed mid-run, no cleanup of its own.
        const killed = spawn(process.execPath, run(['/bin/sleep', '120']), {
          stdio: 'ignore',
          env: env(root),
        });
        await expect.poll(() => sandboxDirs(root).length, { timeout: 60_000 }).toBe(2);
        const stale = sandboxDirs(root).find((dir) => dir !== liveDir) ?? '';
        killed.kill('SIGKILL');
        await exited(killed);
        expect(existsSync(stale)).toBe(true);

        // The attacks: a victim directory behind a symlink with the prefix (and one inside the stale
        // directory), and another user's directory whose owner lock nobody holds.
        const victim = scratchDir('oacp-sweep-victim-');
        writeFileSync(join(victim, OWNER_LOCK), '');
        writeFileSync(join(victim, 'precious'), 'kept');
        symlinkSync(victim, join(root, 'oacp-hardened-planted'));
        symlinkSync(victim, join(stale, 'planted'));
        const foreign = join(root, 'oacp-hardened-foreign');
        mkdirSync(foreign);
        writeFileSync(join(foreign, OWNER_LOCK), '');
        chownSync(join(foreign, OWNER_LOCK), OTHER_UID, OTHER_UID);
        chownSync(foreign, OTHER_UID, OTHER_UID);

        const next = spawnSync(process.execPath, run(['/bin/true']), {
          encoding: 'utf8',
          env: env(root),
          timeout: 120_000,
        });
        expect(next.status, next.stderr).toBe(0);
        expect(existsSync(stale)).toBe(false);
        expect(readFileSync(join(victim, 'precious'), 'utf8')).toBe('kept');
        expect(existsSync(join(victim, OWNER_LOCK))).toBe(true);
        expect(existsSync(join(root, 'oacp-hardened-planted'))).toBe(true);
        expect(existsSync(join(foreign, OWNER_LOCK))).toBe(true);
        // The live sandbox keeps its directory and its run, and removes the directory itself at its end.
        expect(live.exitCode).toBeNull();
        expect(existsSync(join(liveDir, 'egress.sock'))).toBe(true);
        live.kill('SIGTERM');
        await exited(live);
        expect(existsSync(liveDir)).toBe(false);
      } finally {
        live.kill('SIGKILL');
        await exited(live);
      }
    }, 240_000);

    it('leaves a dead creator’s directory that holds a mount point: its removal would empty the mounted directory', async () => {
      const root = scratchDir('oacp-sweep-root-');
      chmodSync(root, 0o1777);
      // Dead creators' directories: an owner lock nobody holds.
      const dead = (name: string): string => {
        const dir = join(root, name);
        mkdirSync(join(dir, 'grants'), { recursive: true });
        writeFileSync(join(dir, OWNER_LOCK), '');
        return dir;
      };
      const plain = dead('oacp-hardened-plain');
      const mounted = dead('oacp-gvisor-mounted');
      const live = makeOwnedDir(root, 'oacp-hardened-');
      // The fault: a grant attached where the sweep's namespace sees it. The removal stops at the
      // mount point (rmdir of it fails, EBUSY, before anything below is read): nothing inside goes.
      const victim = scratchDir('oacp-sweep-victim-');
      writeFileSync(join(victim, 'precious'), 'kept');
      const point = join(mounted, 'grants', '0');
      mkdirSync(point);
      const bind = spawnSync('/usr/bin/mount', ['--bind', victim, point], { encoding: 'utf8' });
      expect(bind.status, bind.stderr).toBe(0);
      try {
        expect(await sweepStaleSandboxDirs(root)).toBe(1);
        expect(existsSync(plain)).toBe(false);
        expect(readFileSync(join(point, 'precious'), 'utf8')).toBe('kept');
        expect(existsSync(join(live.path, OWNER_LOCK))).toBe(true);
      } finally {
        spawnSync('/usr/bin/umount', [point]);
        live.remove();
      }
      expect(readFileSync(join(victim, 'precious'), 'utf8')).toBe('kept');
      expect(existsSync(live.path)).toBe(false);
    });
  },
);
