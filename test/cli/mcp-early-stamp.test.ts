import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PackagePins } from '../../src/mcp/packages/pins.js';
import { treeDigest } from '../../src/mcp/packages/tree-digest.js';
import { tempDir } from './harness.js';

/**
 * Issue 9: `oacp mcp run npm:<pkg>` starts the pinned tree's stamp while its run modules load.
 * Through the real binary, as root and as uid 1000: a tree rewritten in place after its stamp was
 * recorded (same size, mtime set back) is still refused before the server starts, naming it.
 */
const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const NAME = 'oacp-early-stamp-cli';
const isRoot = process.getuid?.() === 0;
const scratch = tempDir('oacp-early-stamp-cli-');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** `oacp` as the given user (root: as is; 1000: through setpriv), stdin closed at once. */
function oacp(uid: 0 | 1000, home: string, store: string, args: readonly string[]) {
  const env = { PATH: '/usr/bin:/bin', HOME: join(home, '..'), OACP_PACKAGE_STORE: store };
  const command =
    uid === 0
      ? [process.execPath, CLI]
      : ['/usr/bin/setpriv', '--reuid=1000', '--regid=1000', '--clear-groups', process.execPath, CLI];
  const [file = '', ...rest] = command;
  const result = spawnSync(file, [...rest, '--home', home, ...args], {
    encoding: 'utf8',
    env,
    timeout: 60_000,
    input: '',
  });
  return { code: result.status ?? -1, stderr: result.stderr };
}

/** An initialised home whose pins name a tree put into the store by hand, owned by `uid`. */
function homeWithTree(uid: 0 | 1000): { home: string; store: string; script: string } {
  const base = join(scratch, `u${uid}`);
  const home = join(base, '.oacp');
  const store = join(base, 'store');
  const staging = join(base, 'staging');
  const pkg = join(staging, 'node_modules', NAME);
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(staging, 'package.json'), '{"name":"oacp-store-entry","private":true}\n');
  writeFileSync(join(pkg, 'package.json'), `{"name":"${NAME}","version":"1.0.0","bin":"index.js"}\n`);
  writeFileSync(join(pkg, 'index.js'), 'process.stdin.resume();\n');
  const digest = treeDigest(staging);
  mkdirSync(join(store, 'trees'), { recursive: true });
  renameSync(staging, join(store, 'trees', digest));
  spawnSync('/usr/bin/chown', ['-R', `${uid}:${uid}`, base]);
  chmodSync(scratch, 0o755);
  const init = oacp(uid, home, store, ['init']);
  expect(init.code, init.stderr).toBe(0);
  new PackagePins(join(home, 'mcp', 'packages', 'pins.json')).set(NAME, {
    scripts: false,
    version: '1.0.0',
    integrity: 'sha512-fixture',
    digest,
  });
  spawnSync('/usr/bin/chown', ['-R', `${uid}:${uid}`, home]);
  return { home, store, script: join(store, 'trees', digest, 'node_modules', NAME, 'index.js') };
}

const RUN = ['mcp', 'run', '--tier', 'light', '--allow-unenforced', 'memory,pids,cpu', `npm:${NAME}`];

describe.skipIf(!isRoot)(
  'oacp mcp run npm:<pkg>: the stamp started early still refuses a changed tree',
  () => {
    for (const uid of [0, 1000] as const) {
      it(`uid ${uid}`, () => {
        const { home, store, script } = homeWithTree(uid);
        // A first start digests the tree in full and records its stamp.
        const first = oacp(uid, home, store, RUN);
        expect(first.stderr).not.toMatch(/modified on disk/);
        expect(readFileSync(join(home, 'mcp', 'packages', 'verified.json'), 'utf8')).toMatch(/[0-9a-f]{64}/);
        const before = statSync(script);
        writeFileSync(script, 'process.exit(7); //\n'.padEnd(before.size, ' ').slice(0, before.size));
        utimesSync(script, before.atime, before.mtime);
        const second = oacp(uid, home, store, RUN);
        expect(second.code).not.toBe(0);
        expect(second.stderr).toMatch(
          new RegExp(`the stored tree of ${NAME}@1\\.0\\.0 was modified on disk`),
        );
        expect(second.stderr).not.toMatch(/\n\s+at /);
      });
    }
  },
);
