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
/** A package whose postinstall turns its bin and package.json into FIFOs, which a host-side read would block on forever. */
const FIFO = 'oacp-scripts-fifo';
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

/**
 * A minimal stdio MCP server (one tool, `ping`) whose postinstall records its build in its own
 * folder and tries to leave a marker outside. With `needsBuild` the server refuses to start
 * without that build, as a native module does without its addon.
 */
function packServer(name: string, version: string, needsBuild: boolean): Buffer {
  const dir = join(scratch, `${name}-${version}-src`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name,
      version,
      bin: { [name]: 'index.js' },
      scripts: { postinstall: 'node postinstall.js' },
    }),
  );
  writeFileSync(
    join(dir, 'postinstall.js'),
    `const fs = require('fs');
let outside;
try { fs.writeFileSync(${JSON.stringify(join(outside, `${name}-marker`))}, 'escaped'); outside = 'done'; } catch (error) { outside = error.code || String(error); }
fs.writeFileSync('built.txt', 'built in the sandbox: ${version}; outside: ' + outside);
`,
  );
  writeFileSync(
    join(dir, 'index.js'),
    `#!/usr/bin/env node
const fs = require('fs');
if (${needsBuild} && !fs.existsSync(require('path').join(__dirname, 'built.txt'))) {
  console.error('Error: No native build was found for platform=linux');
  process.exit(1);
}
const send = (message) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...message }) + '\\n');
require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  let message;
  try { message = JSON.parse(line); } catch { return; }
  if (message.id === undefined) return;
  if (message.method === 'initialize') {
    send({ id: message.id, result: { protocolVersion: message.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: ${JSON.stringify(name)}, version: ${JSON.stringify(version)} } } });
  } else if (message.method === 'tools/list') {
    send({ id: message.id, result: { tools: [{ name: 'ping', description: 'answers', inputSchema: { type: 'object', properties: {} } }] } });
  } else {
    send({ id: message.id, error: { code: -32601, message: 'method not found' } });
  }
});
`,
  );
  const file = execFileSync('npm', ['pack', '--silent', '--pack-destination', scratch], {
    cwd: dir,
    encoding: 'utf8',
  });
  return readFileSync(join(scratch, file.trim()));
}

/**
 * A registry on 127.0.0.1 serving each package in `tarballs` (name to version to tarball, filled
 * in after it listens; the last version set is `latest`, so setting one publishes it).
 */
function serve(tarballs: Map<string, Map<string, Buffer>>): Promise<number> {
  server = createServer((request, response) => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const [name, published] of tarballs) {
      if (request.url === `/${name}`) {
        const versions = Object.fromEntries(
          [...published].map(([version, tarball]) => [
            version,
            {
              name,
              version,
              bin: { [name]: 'index.js' },
              scripts: { postinstall: 'x' },
              dependencies: DEPENDENCIES[name] ?? {},
              dist: {
                integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}`,
                shasum: createHash('sha1').update(tarball).digest('hex'),
                tarball: `${base}/${name}/-/${name}-${version}.tgz`,
              },
            },
          ]),
        );
        response.setHeader('content-type', 'application/json');
        response.end(
          JSON.stringify({ name, 'dist-tags': { latest: [...published.keys()].at(-1) }, versions }),
        );
        return;
      }
      for (const [version, tarball] of published) {
        if (request.url === `/${name}/-/${name}-${version}.tgz`) {
          response.end(tarball);
          return;
        }
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

const tarballs = new Map<string, Map<string, Buffer>>();
beforeAll(async () => {
  const port = await serve(tarballs);
  registry = `http://127.0.0.1:${port}/`;
  tarballs.set(NAME, new Map([['1.0.0', packProbe(homesProbed, port)]]));
  tarballs.set(
    FAILING,
    new Map([
      [
        '1.0.0',
        packSimple(FAILING, `node -e "require('fs').writeFileSync('half.txt','x'); process.exit(3)"`),
      ],
    ]),
  );
  tarballs.set(
    DEP,
    new Map([['1.0.0', packSimple(DEP, `node -e "require('fs').writeFileSync('dep-built.txt','x')"`)]]),
  );
  tarballs.set(
    DEEP,
    new Map([
      [
        '1.0.0',
        packSimple(
          DEEP,
          `node -e "const fs=require('fs');for(let i=0;i<3000;i++){fs.mkdirSync('d');process.chdir('d')}"`,
        ),
      ],
    ]),
  );
  tarballs.set(
    FIFO,
    new Map([['1.0.0', packSimple(FIFO, 'rm index.js package.json && mkfifo index.js package.json')]]),
  );
  tarballs.set(
    DAEMON,
    new Map([
      [
        '1.0.0',
        packSimple(
          DAEMON,
          `node -e "const {spawn}=require('child_process');const p=[];for(const [s,io] of [['3607','ignore'],['3609','inherit']]){const c=spawn('sleep',[s],{detached:true,stdio:io});c.unref();p.push(c.pid)}require('fs').writeFileSync('spawned.txt',p.join(' '))"`,
        ),
      ],
    ]),
  );
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
      'attack: a script that leaves its bin and package.json as FIFOs gets a one-line refusal at start, not a bridge blocked forever reading them (as root and uid 1000)',
      async () => {
        for (const uid of [0, 1000] as const) {
          const as = await account(uid, `fifo-${uid}`);
          const added = await cli(
            ['mcp', 'add', '--allow-scripts', '--allow-unenforced', 'memory,pids,cpu,disk_io', `npm:${FIFO}`],
            as,
          );
          expect(added.code, added.stderr).toBe(0);
          // account() opened the home for the probe; a bridge refuses a master key others can read.
          chmodSync(join(as.home, '.oacp', 'master.key'), 0o600);
          const started = Date.now();
          const run = await cli(
            ['mcp', 'run', '--allow-unenforced', 'memory,pids,cpu,disk_io', `npm:${FIFO}`],
            as,
          );
          expect(Date.now() - started).toBeLessThan(60_000);
          expect(run.code, run.stderr).toBe(1);
          expect(run.stderr).toContain(`${FIFO}: the stored tree's package.json is not a regular file`);
          expect(run.stderr).not.toMatch(/\n\s+at /);
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

/** The pin of `name` in the account's home. */
function pinOf(as: { home: string }, name: string): { version: string; digest: string; scripts: boolean } {
  const pins = JSON.parse(readFileSync(join(as.home, '.oacp', 'mcp', 'packages', 'pins.json'), 'utf8'));
  return pins.packages[name];
}

/** `built.txt` of `name` in its pinned tree, or undefined when no script wrote it; the tree still matches its digest. */
function builtIn(as: { home: string; store: string }, name: string): string | undefined {
  const { digest } = pinOf(as, name);
  const tree = join(as.store, 'trees', digest);
  expect(treeDigest(tree)).toBe(digest);
  const built = join(tree, 'node_modules', name, 'built.txt');
  return existsSync(built) ? readFileSync(built, 'utf8') : undefined;
}

/**
 * `oacp mcp update` of a package added with `--allow-scripts` installed the new version with
 * scripts off: a native package lost its build and its server no longer started. Whether the
 * scripts run is now part of the pin; update (and a missing tree fetched again) runs them the
 * same way, in the sandbox; a package added without them never gets them.
 */
describe.skipIf(!hardened)('oacp mcp update keeps the install scripts a package was added with', () => {
  async function updateCase(
    uid: 0 | 1000,
    tag: string,
  ): Promise<{ home: string; store: string; uid: 0 | 1000 }> {
    const as = await account(uid, tag);
    const built = `oacp-${tag}`;
    const plain = `oacp-${tag}-off`;
    tarballs.set(built, new Map([['1.0.0', packServer(built, '1.0.0', true)]]));
    tarballs.set(plain, new Map([['1.0.0', packServer(plain, '1.0.0', false)]]));
    const unenforced = uid === 1000 ? ['--allow-unenforced', 'memory,pids,cpu,disk_io'] : [];
    const added = await cli(['mcp', 'add', '--allow-scripts', ...unenforced, `npm:${built}`], as);
    expect(added.code, added.stderr).toBe(0);
    expect(builtIn(as, built)).toMatch(/^built in the sandbox: 1\.0\.0; outside: (?!done)/);
    expect(pinOf(as, built).scripts).toBe(true);
    const addedPlain = await cli(['mcp', 'add', `npm:${plain}`], as);
    expect(addedPlain.code, addedPlain.stderr).toBe(0);
    expect(pinOf(as, plain).scripts).toBe(false);

    // Publish 2.0.0 of both.
    tarballs.get(built)?.set('2.0.0', packServer(built, '2.0.0', true));
    tarballs.get(plain)?.set('2.0.0', packServer(plain, '2.0.0', false));

    if (uid === 1000 && v1) {
      // The scripts' sandbox cannot enforce its limits for a regular user here: refused first, naming the flag.
      const refused = await cli(['mcp', 'update', built], as);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('AIRLOCK_LIMIT_UNENFORCED');
      expect(refused.stderr).toMatch(/--allow-unenforced memory,pids,cpu,disk_io\b/);
      expect(refused.stderr).not.toMatch(/installing/);
      expect(pinOf(as, built).version).toBe('1.0.0');
    }
    const updated = await cli(['mcp', 'update', built, ...unenforced], as);
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stderr).toContain('scripts on, in the hardened sandbox without network');
    expect(updated.stdout).toContain(`${built}: 1.0.0 -> 2.0.0`);
    expect(updated.stdout).toContain(`pinned ${built}@2.0.0`);
    expect(pinOf(as, built)).toMatchObject({ version: '2.0.0', scripts: true });
    // The new version's postinstall ran, in the sandbox: its build inside the tree, nothing outside.
    expect(builtIn(as, built)).toMatch(/^built in the sandbox: 2\.0\.0; outside: (?!done)\w+/);
    expect(existsSync(join(outside, `${built}-marker`))).toBe(false);

    const updatedPlain = await cli(['mcp', 'update', plain, ...unenforced], as);
    expect(updatedPlain.code, updatedPlain.stderr).toBe(0);
    expect(updatedPlain.stderr).toContain('(scripts off)');
    expect(pinOf(as, plain)).toMatchObject({ version: '2.0.0', scripts: false });
    expect(builtIn(as, plain)).toBeUndefined();
    expect(existsSync(join(outside, `${plain}-marker`))).toBe(false);
    return as;
  }

  it.skipIf(!isRoot)(
    "as root: update runs the new version's scripts in the sandbox, only for a package added with them; a missing tree is fetched again with them",
    async () => {
      const as = await updateCase(0, 'upd-root');
      const built = 'oacp-upd-root';
      // The pinned tree gone: add (without the flag) fetches it again, and the pin's scripts run again.
      const { digest } = pinOf(as, built);
      rmSync(join(as.store, 'trees', digest), { recursive: true, force: true });
      const again = await cli(['mcp', 'add', `npm:${built}`], as);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain('scripts on, in the hardened sandbox without network');
      expect(pinOf(as, built).digest).toBe(digest);
      expect(builtIn(as, built)).toMatch(/^built in the sandbox: 2\.0\.0/);
    },
    480_000,
  );

  it.skipIf(!isRoot)(
    'as uid 1000: the same, with --allow-unenforced on update as on add (refused without it on cgroup v1)',
    async () => {
      await updateCase(1000, 'upd-uid1000');
    },
    480_000,
  );
});
