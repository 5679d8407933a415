import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { buildLauncher } from '../../src/airlock/native/launcher/build.js';
import { isRoot, oacpCli, openDir, REGULAR_USER } from './confine-harness.js';

/**
 * Issue 9 (round 24): as an ordinary user whose launcher cache cannot be made
 * (a read-only home) or is not safe, every sandbox start compiled the
 * launcher into a fresh /tmp/oacp-launcher-* that was never removed: a
 * gateway filled /tmp. And a cache whose parent another user can write was
 * trusted: that user could swap in a launcher of their own between the check
 * and the exec. The user's cache is used only when no other user can change
 * it; otherwise the start builds into a temporary directory removed with it.
 */
const available = (await new HardenedTier().availability()).available;
const STARTS = 3;

describe.skipIf(!isRoot || !available)('the launcher cache of an ordinary user', () => {
  const root = openDir('oacp-test-launcher-user-');
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const own = (path: string, mode: number, uid = REGULAR_USER.uid): string => {
    mkdirSync(path, { recursive: true });
    execFileSync('chown', [`${uid}:${uid}`, path]);
    chmodSync(path, mode);
    return path;
  };

  /** `count` hardened and light starts as uid 1000 with a test-owned TMPDIR; what each printed and what TMPDIR holds after. */
  async function starts(
    env: NodeJS.ProcessEnv,
    count = STARTS,
  ): Promise<{ outputs: string[]; left: string[] }> {
    const tmp = own(join(root, `tmp-${Math.random().toString(36).slice(2)}`), 0o755);
    const outputs: string[] = [];
    for (let index = 0; index < count; index++) {
      for (const tier of ['hardened', 'light']) {
        const result = await oacpCli(['run', '--tier', tier, '--', '/bin/echo', `start ${index}`], {
          env: { ...env, TMPDIR: tmp },
          asUser: REGULAR_USER,
        });
        outputs.push(`${result.code} ${result.stdout.trim()}${result.stderr}`);
      }
    }
    return { outputs, left: readdirSync(tmp) };
  }

  const expected = (count = STARTS): string[] =>
    Array.from({ length: count }, (_, index) => [`0 start ${index}`, `0 start ${index}`]).flat();
  // Each start compiles the launcher where no cache is safe: seconds each on a loaded host.
  const LONG = 600_000;

  it(
    'a read-only home: N starts leave nothing in TMPDIR',
    async () => {
      const home = own(join(root, 'read-only-home'), 0o555);
      const { outputs, left } = await starts({ HOME: home });
      expect(outputs).toEqual(expected());
      expect(left).toEqual([]);
    },
    LONG,
  );

  it(
    'a writable home: one cache, 0700, reused; nothing in TMPDIR',
    async () => {
      const home = own(join(root, 'home'), 0o700);
      const { outputs, left } = await starts({ HOME: home });
      expect(outputs).toEqual(expected());
      expect(left).toEqual([]);
      const cache = join(home, '.cache', 'oacp', 'launcher');
      expect(readdirSync(cache).filter((name) => name.startsWith('oacp-launch-')).length).toBeGreaterThan(0);
      expect(execFileSync('stat', ['-c', '%a %u', cache]).toString().trim()).toBe(`700 ${REGULAR_USER.uid}`);
    },
    LONG,
  );

  it(
    'attack: a cache planted by another uid, group or world writable, or under a directory others can write is refused, never executed',
    async () => {
      // The names the user's launcher would have: the same source and flags give the same name, root's included.
      const names = readdirSync(dirname(buildLauncher())).filter((name) =>
        /^oacp-launch-[0-9a-f]+$/.test(name),
      );
      expect(names.length).toBeGreaterThan(0);
      const marker = join(own(join(root, 'marks'), 0o777), 'planted-launcher-ran');
      const plant = (dir: string, uid: number): void => {
        for (const name of names) {
          const path = join(dir, name);
          writeFileSync(path, `#!/bin/sh\necho ran >> ${marker}\nexit 97\n`);
          execFileSync('chown', [`${uid}:${uid}`, path]);
          chmodSync(path, 0o755);
        }
      };
      const attacks: [string, () => string][] = [
        // Planted by root (another uid than the user's), in a directory of root's.
        [
          'owned by another uid',
          () => {
            const cache = own(join(root, 'other-uid', 'oacp', 'launcher'), 0o755, 0);
            plant(cache, 0);
            return join(root, 'other-uid');
          },
        ],
        [
          'world writable',
          () => {
            const cache = own(join(root, 'world', 'oacp', 'launcher'), 0o777);
            plant(cache, REGULAR_USER.uid);
            return join(root, 'world');
          },
        ],
        [
          'group writable',
          () => {
            const cache = own(join(root, 'group', 'oacp', 'launcher'), 0o770);
            plant(cache, REGULAR_USER.uid);
            return join(root, 'group');
          },
        ],
        // Ours and closed, but in a directory anyone may write (not sticky): anyone can rename it and put theirs there.
        [
          'under a world-writable parent',
          () => {
            own(join(root, 'shared'), 0o777, 0);
            const cache = own(join(root, 'shared', 'cache', 'oacp', 'launcher'), 0o700);
            own(join(root, 'shared', 'cache', 'oacp'), 0o700);
            own(join(root, 'shared', 'cache'), 0o700);
            plant(cache, REGULAR_USER.uid);
            return join(root, 'shared', 'cache');
          },
        ],
      ];
      for (const [name, make] of attacks) {
        const { outputs, left } = await starts(
          { HOME: own(join(root, 'no-home'), 0o555), XDG_CACHE_HOME: make() },
          1,
        );
        expect({ name, outputs, left }).toEqual({ name, outputs: expected(1), left: [] });
        expect({ name, ran: existsSync(marker) }).toEqual({ name, ran: false });
      }
    },
    LONG,
  );
});
