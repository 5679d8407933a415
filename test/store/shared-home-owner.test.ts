import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oacpAsUid1000, oacpBinary, tempDir } from '../cli/harness.js';
import { bridgeArgs } from '../mcp/home-bridge.js';

/** `oacp mcp run --quota-calls` as uid 1000: its exit code (null if it started) and its stderr. */
async function bridgeAsUid1000(home: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(
    '/usr/bin/setpriv',
    [
      '--reuid=1000',
      '--regid=1000',
      '--clear-groups',
      process.execPath,
      ...bridgeArgs(home, { flags: ['--quota-calls', '3/min'] }),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', HOME: home } },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const started = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(started);
  child.stdin.destroy();
  return { code, stderr };
}

const chownTree = (path: string, uid: number) => {
  chownSync(path, uid, uid);
  for (const entry of readdirSync(path, { withFileTypes: true, recursive: true }))
    chownSync(join(entry.parentPath, entry.name), uid, uid);
};

/**
 * A home root and uid 1000 share (root ran init, uid 1000 runs; the reverse):
 * the store and the home's record of it are the maker's, mode 0600. A clear
 * refusal naming the file, its owner and the fix; never a stack trace, a
 * "no store" where one is, or a new identity recorded beside the old one.
 */
describe.skipIf(process.getuid?.() !== 0)('a home shared between root and uid 1000', () => {
  it('attack: root made the home and its store, uid 1000 runs: keys, store and the quota bridge refuse naming the file and the fix', async () => {
    const root = tempDir();
    chmodSync(root, 0o755);
    const home = join(root, 'home');
    try {
      expect(oacpBinary(['--home', home, 'init']).code).toBe(0);
      expect(oacpBinary(['--home', home, 'store', 'accept']).code).toBe(0);
      const record = readFileSync(join(home, 'store-identity.json'), 'utf8');
      const fix = `run the command as uid 0, or give it to uid 1000 (as root: chown -R 1000:1000 ${home})`;
      for (const args of [
        ['keys', 'list'],
        ['store', 'status'],
        ['store', 'reset-future'],
      ]) {
        const refused = oacpAsUid1000(['--home', home, ...args], root);
        expect(refused.code, args.join(' ')).toBe(2);
        expect(refused.stderr).toBe(
          `oacp: --store: uid 1000 cannot use ${join(home, 'gateway.db')}: ${home} is uid 0's (mode 0700); this home was made by another user: ${fix}\n`,
        );
      }

      // Only the home's directory given to uid 1000: its keys are root's, not "missing" (with advice to `oacp init`).
      chownSync(home, 1000, 1000);
      const keys = await bridgeAsUid1000(home);
      expect(keys.code, keys.stderr).toBeGreaterThan(0);
      expect(keys.stderr).toContain(
        `IDENTITY_HOME_NOT_OURS: uid 1000 cannot use ${join(home, 'keys', 'airlock.json')}: ${join(home, 'keys')} is uid 0's (mode 0700); this home was made by another user: ${fix}`,
      );
      expect(keys.stderr).not.toContain('oacp init');

      // The home given to uid 1000 but for its record of its store, left root's: refused by name, not re-recorded.
      chownTree(home, 1000);
      chownSync(join(home, 'store-identity.json'), 0, 0);
      const recordRefusal = `uid 1000 cannot use ${join(home, 'store-identity.json')}: it is uid 0's (mode 0600); this home was made by another user: ${fix}`;
      const bridge = await bridgeAsUid1000(home);
      expect(bridge.code, bridge.stderr).toBeGreaterThan(0);
      expect(bridge.stderr).toContain(recordRefusal);
      expect(bridge.stderr).not.toMatch(/^\s+at /m);
      for (const args of [
        ['keys', 'list'],
        ['store', 'status'],
      ]) {
        const refused = oacpAsUid1000(['--home', home, ...args], root);
        expect(refused.code, args.join(' ')).toBeGreaterThan(0);
        expect(refused.stderr, args.join(' ')).toContain(recordRefusal);
        expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      }
      expect(readFileSync(join(home, 'store-identity.json'), 'utf8')).toBe(record);

      // Everything uid 1000's: the same store, the one recorded, is used.
      chownTree(home, 1000);
      const status = oacpAsUid1000(['--home', home, 'store', 'status'], root);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toMatch(/: ok: store [0-9a-f]{12}, the one recorded/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 90_000);

  it("attack: uid 1000 made the home, root runs: refused naming the home and the fix, nothing of root's left in it", async () => {
    const root = tempDir();
    chmodSync(root, 0o755);
    const home = join(root, 'home');
    try {
      mkdirSync(home);
      chownSync(home, 1000, 1000);
      expect(oacpAsUid1000(['--home', home, 'init'], root).code).toBe(0);
      expect(oacpAsUid1000(['--home', home, 'store', 'accept'], root).code).toBe(0);
      for (const args of [
        ['keys', 'list'],
        ['store', 'status'],
        ['store', 'accept'],
        ['store', 'reset-future', '--yes'],
      ]) {
        const refused = oacpBinary(['--home', home, ...args]);
        expect(refused.code, args.join(' ')).toBe(2);
        expect(refused.stderr).toContain(`--home names ${home}, the OACP home of uid 1000`);
        expect(refused.stderr).toContain('run the command as uid 1000');
      }
      const owners = readdirSync(home, { recursive: true }).map((name) => ({
        name,
        uid: statSync(join(home, String(name))).uid,
      }));
      expect(owners.filter(({ uid }) => uid !== 1000)).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 90_000);
});
