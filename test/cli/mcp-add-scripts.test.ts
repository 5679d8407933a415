import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCgroupHost } from '../../src/airlock/cgroups/index.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { treeDigest } from '../../src/mcp/packages/tree-digest.js';

/**
 * Issue 9: `oacp mcp add --allow-scripts` ran the package's install scripts with npm on the
 * host, unconfined, as the invoker (root). npm now installs with scripts off on the host and
 * the scripts run afterwards by `npm rebuild` in the hardened sandbox: only the staging
 * folder writable, the OACP home unreadable, no network. The package comes from a registry
 * this test serves on 127.0.0.1 (the store refuses local specs by design).
 */
const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const NAME = 'oacp-scripts-probe';
const FAILING = 'oacp-scripts-fail';
/** A package whose postinstall nests 3000 folders (6000 bytes of path, past PATH_MAX). */
const DEEP = 'oacp-scripts-deep';
/** A package whose postinstall leaves a detached daemon behind, one with npm's stdout and one without. */
const DAEMON = 'oacp-scripts-daemon';
/** A dependency of the probe with its own postinstall. */
const DEP = 'oacp-scripts-dep';
const DEPENDENCIES: Readonly<Record<string, Record<string, string>>> = { [NAME]: { [DEP]: '1.0.0' } };
const isRoot = process.getuid?.() === 0;
/** Whether the probe builds a native addon: a compiler, make and the headers of this node (node-gyp runs offline). */
const NATIVE =
  ['/usr/bin/make', '/usr/bin/cc', '/usr/bin/python3'].every((tool) => existsSync(tool)) &&
  existsSync(join(dirname(dirname(realpathSync(process.execPath))), 'include', 'node', 'common.gypi'));
const hardened = (await new HardenedTier().availability()).available;
const memory = detectCgroupHost().memory;
const v1 = memory.available && memory.version === 1;

const scratch = mkdtempSync(join(tmpdir(), 'oacp-add-scripts-'));
chmodSync(scratch, 0o755);
/** Where a script tries to leave a marker: writable by anyone on the host, so only the sandbox stops it. */
const outside = join(scratch, 'outside');
mkdirSync(outside);
chmodSync(outside, 0o777);
let server: Server;
let registry = '';

/** A package whose preinstall, install and postinstall each record themselves, and whose postinstall probes. */
function packProbe(homes: readonly string[], port: number): Buffer {
  const dir = join(scratch, 'probe-src');
  mkdirSync(dir, { recursive: true });
  const step = (name: string) => `node -e "require('fs').appendFileSync('order.txt','${name}\\\\n')"`;
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: NAME,
      version: '1.0.0',
      bin: { [NAME]: 'index.js' },
      dependencies: DEPENDENCIES[NAME],
      scripts: {
        preinstall: step('preinstall'),
        // A native addon built by node-gyp, offline: the headers come with the host's node.
        install: NATIVE ? `node-gyp rebuild && ${step('install')}` : step('install'),
        postinstall: 'node postinstall.js',
      },
    }),
  );
  writeFileSync(
    join(dir, 'binding.gyp'),
    JSON.stringify({ targets: [{ target_name: 'probe', sources: ['probe.c'] }] }),
  );
  writeFileSync(
    join(dir, 'probe.c'),
    `#include <node_api.h>
static napi_value Init(napi_env env, napi_value exports) {
  napi_value answer;
  napi_create_int32(env, 42, &answer);
  return answer;
}
NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
`,
  );
  writeFileSync(join(dir, 'index.js'), '#!/usr/bin/env node\n');
  writeFileSync(
    join(dir, 'postinstall.js'),
    `const fs = require('fs');
const tried = (what) => { try { what(); return 'done'; } catch (error) { return error.code || String(error); } };
const report = { outside: tried(() => fs.writeFileSync(${JSON.stringify(join(outside, 'marker'))}, 'escaped')) };
for (const home of ${JSON.stringify(homes)}) report[home] = tried(() => fs.readFileSync(home + '/master.key'));
report.env = Object.keys(process.env).filter((name) => name.startsWith('OACP') || name.startsWith('npm_config_registry'));
fs.appendFileSync('order.txt', 'postinstall\\n');
fs.writeFileSync('built.txt', 'built in the sandbox: ' + (${NATIVE} ? require('./build/Release/probe.node') : 42));
// Modes a stored tree must not carry: set-user-ID (the file is root's on the host when OACP is root), writable by others.
fs.writeFileSync('suid', '#!/bin/sh\\n');
report.setuid = tried(() => fs.chmodSync('suid', 0o6755));
report.open = tried(() => fs.chmodSync('built.txt', 0o666));
// A hard link to a host file the sandbox can read (node, bound read-only) would put that file in the tree.
report.hardlink = tried(() => fs.linkSync(process.execPath, 'node-link'));
// The registry this test serves on the host's loopback: the host's npm reached it, the script must not.
const socket = require('net').connect(${port}, '127.0.0.1');
const done = (result) => { report.network = result; socket.destroy(); fs.writeFileSync('probe.json', JSON.stringify(report)); };
socket.on('connect', () => done('connected'));
socket.on('error', (error) => done(error.code || String(error)));
`,
  );
  const file = execFileSync('npm', ['pack', '--silent', '--pack-destination', scratch], {
    cwd: dir,
    encoding: 'utf8',
  });
  return readFileSync(join(scratch, file.trim()));
}

/** A package with one `postinstall` and nothing else. */
function packSimple(name: string, postinstall: string): Buffer {
  const dir = join(scratch, `${name}-src`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', bin: { [name]: 'index.js' }, scripts: { postinstall } }),
  );
  writeFileSync(join(dir, 'index.js'), '#!/usr/bin/env node\n');
  const file = execFileSync('npm', ['pack', '--silent', '--pack-destination', scratch], {
    cwd: dir,
    encoding: 'utf8',
  });
  return readFileSync(join(scratch, file.trim()));
}

/** A registry on 127.0.0.1 serving version 1.0.0 of each package in `tarballs` (filled in after it listens). */
function serve(tarballs: Map<string, Buffer>): Promise<number> {
  server = createServer((request, response) => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const [name, tarball] of tarballs) {
      if (request.url === `/${name}`) {
        const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
        const shasum = createHash('sha1').update(tarball).digest('hex');
        response.setHeader('content-type', 'application/json');
        response.end(
          JSON.stringify({
            name,
            'dist-tags': { latest: '1.0.0' },
            versions: {
              '1.0.0': {
                name,
                version: '1.0.0',
                bin: { [name]: 'index.js' },
                scripts: { postinstall: 'x' },
                dependencies: DEPENDENCIES[name] ?? {},
                dist: { integrity, shasum, tarball: `${base}/${name}/-/${name}-1.0.0.tgz` },
              },
            },
          }),
        );
        return;
      }
      if (request.url === `/${name}/-/${name}-1.0.0.tgz`) {
        response.end(tarball);
        return;
      }
    }
    response.statusCode = 404;
    response.end('{}');
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

/** The built CLI as `uid` (root, or uid 1000 through setpriv), with HOME `home`, asynchronously (the registry is served here). */
function cli(
  args: readonly string[],
  as: { uid: 0 | 1000; home: string; store: string },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [command, prefix] =
    as.uid === 0
      ? [process.execPath, [CLI]]
      : ['/usr/bin/setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', process.execPath, CLI]];
  return new Promise((resolve) => {
    execFile(
      command,
      [...prefix, '--home', join(as.home, '.oacp'), ...args],
      {
        env: {
          PATH: '/usr/bin:/bin',
          HOME: as.home,
          npm_config_registry: registry,
          OACP_PACKAGE_STORE: as.store,
        },
        cwd: as.home,
        timeout: 240_000,
      },
      (error, stdout, stderr) =>
        resolve({ code: typeof error?.code === 'number' ? error.code : error ? 1 : 0, stdout, stderr }),
    );
  });
}

/** A home and store for one user; the home and its master key world-readable, so only the sandbox hides them. */
async function account(uid: 0 | 1000, tag: string): Promise<{ uid: 0 | 1000; home: string; store: string }> {
  const home = join(scratch, `user-${tag}`);
  mkdirSync(home);
  chownSync(home, uid, uid);
  const as = { uid, home, store: join(home, 'store') };
  const init = await cli(['init'], as);
  expect(init.code, init.stderr).toBe(0);
  chmodSync(join(home, '.oacp'), 0o755);
  chmodSync(join(home, '.oacp', 'master.key'), 0o644);
  return as;
}

const homesProbed = ['root', 'uid1000', 'uid1000-refused', 'off'].map((tag) =>
  join(scratch, `user-${tag}`, '.oacp'),
);

beforeAll(async () => {
  const tarballs = new Map<string, Buffer>();
  const port = await serve(tarballs);
  registry = `http://127.0.0.1:${port}/`;
  tarballs.set(NAME, packProbe(homesProbed, port));
  tarballs.set(
    FAILING,
    packSimple(FAILING, `node -e "require('fs').writeFileSync('half.txt','x'); process.exit(3)"`),
  );
  tarballs.set(
    DEEP,
    packSimple(
      DEEP,
      `node -e "const fs=require('fs');for(let i=0;i<3000;i++){fs.mkdirSync('d');process.chdir('d')}"`,
    ),
  );
  tarballs.set(
    DAEMON,
    packSimple(
      DAEMON,
      `node -e "const {spawn}=require('child_process');const p=[];for(const [s,io] of [['3607','ignore'],['3609','inherit']]){const c=spawn('sleep',[s],{detached:true,stdio:io});c.unref();p.push(c.pid)}require('fs').writeFileSync('spawned.txt',p.join(' '))"`,
    ),
  );
  tarballs.set(DEP, packSimple(DEP, `node -e "require('fs').writeFileSync('dep-built.txt','x')"`));
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  rmSync(scratch, { recursive: true, force: true });
});

/** The package's folder in the one stored tree, and that tree's digest as add printed it. */
function storedPackage(store: string, stdout: string): { tree: string; pkg: string; digest: string } {
  const digest = /sha256:([0-9a-f]{64})/.exec(stdout)?.[1] ?? '';
  expect(readdirSync(join(store, 'trees'))).toEqual([digest]);
  const tree = join(store, 'trees', digest);
  return { tree, pkg: join(tree, 'node_modules', NAME), digest };
}

function expectConfined(store: string, stdout: string): void {
  const { tree, pkg, digest } = storedPackage(store, stdout);
  // The dependency's script ran too.
  expect(existsSync(join(tree, 'node_modules', DEP, 'dep-built.txt'))).toBe(true);
  // Every lifecycle script ran, in order, inside the package's folder.
  expect(readFileSync(join(pkg, 'order.txt'), 'utf8')).toBe('preinstall\ninstall\npostinstall\n');
  const report = JSON.parse(readFileSync(join(pkg, 'probe.json'), 'utf8')) as Record<string, unknown>;
  // (a) nothing written outside the staging folder; (b) no home's master key readable; no OACP_* in the environment.
  expect(report.outside).not.toBe('done');
  expect(existsSync(join(outside, 'marker'))).toBe(false);
  for (const home of homesProbed) {
    expect(report[home], home).not.toBe('done');
    expect(report[home], home).toBeTruthy();
  }
  expect(report.env).toEqual([]);
  // No network: not even the host's loopback, where the registry the host's npm used listens.
  expect(report.network).not.toBe('connected');
  expect(report.network).toBeTruthy();
  // (c) what the script wrote in its own folder is stored, and the tree's digest covers it.
  expect(readFileSync(join(pkg, 'built.txt'), 'utf8')).toBe('built in the sandbox: 42');
  expect(existsSync(join(pkg, 'build', 'Release', 'probe.node'))).toBe(NATIVE);
  expect(treeDigest(tree)).toBe(digest);
  // Nothing the scripts left is writable by others or set-user-ID (the store's permissions guard its trees).
  expect(report.setuid).not.toBe('done');
  expect(report.hardlink).not.toBe('done');
  expect(existsSync(join(pkg, 'node-link'))).toBe(false);
  expect(report.open).toBe('done');
  expect(statSync(join(pkg, 'built.txt')).mode & 0o7777).toBe(0o644);
  expect(statSync(join(pkg, 'suid')).mode & 0o7022).toBe(0);
  const copy = join(scratch, `copy-${digest.slice(0, 8)}`);
  cpSync(tree, copy, { recursive: true, verbatimSymlinks: true });
  rmSync(join(copy, 'node_modules', NAME, 'built.txt'));
  expect(treeDigest(copy)).not.toBe(digest);
}

describe.skipIf(!hardened)(
  'oacp mcp add --allow-scripts runs install scripts in the hardened sandbox',
  () => {
    it('without --allow-scripts, no script runs (npm installs with scripts off)', async () => {
      const as = await account(isRoot ? 0 : 1000, 'off');
      const added = await cli(['mcp', 'add', `npm:${NAME}`], as);
      expect(added.code, added.stderr).toBe(0);
      const { pkg } = storedPackage(as.store, added.stdout);
      expect(existsSync(join(pkg, 'order.txt'))).toBe(false);
      expect(existsSync(join(pkg, 'built.txt'))).toBe(false);
    }, 240_000);

    it.skipIf(!isRoot)(
      'as root: scripts run confined, and what they built is in the digested tree',
      async () => {
        const as = await account(0, 'root');
        const added = await cli(['mcp', 'add', '--allow-scripts', `npm:${NAME}`], as);
        expect(added.code, added.stderr).toBe(0);
        expect(added.stderr).toContain('in the hardened sandbox without network');
        expectConfined(as.store, added.stdout);
      },
      240_000,
    );

    it.skipIf(!isRoot)(
      'as uid 1000: the same, with --allow-unenforced as this host needs',
      async () => {
        const as = await account(1000, 'uid1000');
        const added = await cli(
          ['mcp', 'add', '--allow-scripts', '--allow-unenforced', 'memory,pids,cpu,disk_io', `npm:${NAME}`],
          as,
        );
        expect(added.code, added.stderr).toBe(0);
        expectConfined(as.store, added.stdout);
      },
      240_000,
    );

    it.skipIf(!isRoot || !v1)(
      'as uid 1000 on cgroup v1 without --allow-unenforced: refused before anything is fetched, never run on the host',
      async () => {
        const as = await account(1000, 'uid1000-refused');
        const added = await cli(['mcp', 'add', '--allow-scripts', `npm:${NAME}`], as);
        expect(added.code).toBe(1);
        expect(added.stderr).toContain('AIRLOCK_LIMIT_UNENFORCED');
        expect(added.stderr).toMatch(/--allow-unenforced memory,pids,cpu,disk_io\b/);
        expect(added.stderr).not.toMatch(/installing/);
        expect(existsSync(as.store)).toBe(false);
        expect(existsSync(join(as.home, '.oacp', 'mcp', 'packages', 'pins.json'))).toBe(false);
      },
      240_000,
    );

    it.skipIf(!isRoot)(
      'attack: a script nesting folders past PATH_MAX is refused with a typed one-line error, and its staging folder is removed (as root and uid 1000)',
      async () => {
        for (const uid of [0, 1000] as const) {
          const as = await account(uid, `deep-${uid}`);
          const added = await cli(
            ['mcp', 'add', '--allow-scripts', '--allow-unenforced', 'memory,pids,cpu,disk_io', `npm:${DEEP}`],
            as,
          );
          expect(added.code, added.stderr).toBe(1);
          expect(added.stderr).toContain(
            'the install scripts left a path longer than the system allows (folders nested past PATH_MAX); nothing was stored',
          );
          expect(added.stderr).not.toMatch(/call stack|ENAMETOOLONG|\n\s+at /);
          expect(existsSync(join(as.store, 'trees'))).toBe(false);
          expect(readdirSync(join(as.store, '.staging'))).toEqual([]);
          expect(existsSync(join(as.home, '.oacp', 'mcp', 'packages', 'pins.json'))).toBe(false);
        }
      },
      480_000,
    );

    it.skipIf(!isRoot)(
      "attack (held): a daemon a script detaches, holding npm's output or not, dies with the sandbox and does not hold add (as root and uid 1000)",
      async () => {
        for (const uid of [0, 1000] as const) {
          const as = await account(uid, `daemon-${uid}`);
          const started = Date.now();
          const added = await cli(
            [
              'mcp',
              'add',
              '--allow-scripts',
              '--allow-unenforced',
              'memory,pids,cpu,disk_io',
              `npm:${DAEMON}`,
            ],
            as,
          );
          expect(added.code, added.stderr).toBe(0);
          expect(Date.now() - started).toBeLessThan(60_000);
          // Both daemons were started (pids inside the sandbox's namespace).
          const tree = join(as.store, 'trees', /sha256:([0-9a-f]{64})/.exec(added.stdout)?.[1] ?? '');
          const spawned = readFileSync(join(tree, 'node_modules', DAEMON, 'spawned.txt'), 'utf8');
          expect(spawned).toMatch(/^\d+ \d+$/);
          const left = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
            .split('\n')
            .filter((line) => /^sleep 36(07|09)$/.test(line.trim()));
          expect(left).toEqual([]);
        }
      },
      240_000,
    );

    it('--allow-unenforced without --allow-scripts, or with an unknown name, is a one-line usage error', async () => {
      const as = { uid: (isRoot ? 0 : 1000) as 0 | 1000, home: scratch, store: join(scratch, 'none') };
      const alone = await cli(['mcp', 'add', '--allow-unenforced', 'memory', `npm:${NAME}`], as);
      expect(alone.code).toBe(2);
      expect(alone.stderr).toContain('--allow-unenforced applies only with --allow-scripts');
      const unknown = await cli(
        ['mcp', 'add', '--allow-scripts', '--allow-unenforced', 'bogus', `npm:${NAME}`],
        as,
      );
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(
        /^.*--allow-unenforced bogus: must be one of memory, pids, cpu, disk_io, identity\n?$/,
      );
      expect(existsSync(join(scratch, 'none'))).toBe(false);
    });
  },
);
