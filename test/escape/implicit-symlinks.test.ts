import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { ATTACKERS, isRoot, oacpCli, openDir, who } from './confine-harness.js';

/**
 * Issue 9, item 2 (implicit read paths from explicit roots only): the
 * `node_modules` directories Node resolves from a script are granted
 * read-only without a flag, and the mount plan binds an implicit path's
 * symlink target as well. A package (a cloned MCP server, say) shipping
 * `node_modules -> /anywhere` so granted its target: under gVisor the
 * script read a root-only file in a private directory (as root) and a
 * world-readable ungranted one (as uid 1000) through it; the hardened tier
 * failed to start with a bwrap error. A symlinked node_modules is no
 * explicit root and is not followed; the package's real node_modules still is.
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};
const users = ATTACKERS;

describe('a node_modules symlink in the script package', () => {
  const root = openDir('oacp-implicit-link-');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** The package: app/node_modules -> target (the attack), node_modules/dep (real, must still load). */
  /** `print`: where the script writes what it found (an MCP server's stdout is for JSON-RPC only). */
  const packageLinkingTo = (target: string, print: 'log' | 'error' = 'log'): string => {
    const pkg = mkdtempSync(join(root, 'pkg-'));
    chmodSync(pkg, 0o755);
    writeFileSync(join(pkg, 'package.json'), '{"name":"linked"}');
    mkdirSync(join(pkg, 'node_modules', 'dep'), { recursive: true });
    writeFileSync(join(pkg, 'node_modules', 'dep', 'index.js'), 'module.exports = "DEP-LOADED";');
    mkdirSync(join(pkg, 'app'));
    symlinkSync(target, join(pkg, 'app', 'node_modules'));
    const reads = [join(pkg, 'app', 'node_modules', 'secret.txt'), join(target, 'secret.txt')];
    writeFileSync(
      join(pkg, 'app', 'index.js'),
      [
        'const fs = require("fs");',
        `console.${print}(require("dep"));`,
        `for (const p of ${JSON.stringify(reads)}) {`,
        `  try { console.${print}("READ", fs.readFileSync(p, "utf8")); } catch (e) { console.${print}("no", e.code); }`,
        '}',
      ].join('\n'),
    );
    return join(pkg, 'app', 'index.js');
  };

  const secretDir = (mode: number, secret: string): string => {
    const dir = mkdtempSync(join(root, 'target-'));
    writeFileSync(join(dir, 'secret.txt'), secret, { mode: mode === 0o700 ? 0o600 : 0o644 });
    chmodSync(dir, mode);
    return dir;
  };

  for (const tier of ['hardened', 'gvisor'] as const) {
    for (const user of users) {
      it.skipIf(!available[tier])(
        `${tier}, ${who(user)}: the link's world-readable target is not bound; the real node_modules is`,
        async () => {
          const script = packageLinkingTo(secretDir(0o755, 'WORLD-READABLE-SECRET'));
          const result = await oacpCli(['run', '--tier', tier, '--', process.execPath, script], {
            ...(user === undefined ? {} : { asUser: user }),
          });
          expect(result.stdout + result.stderr).not.toContain('WORLD-READABLE-SECRET');
          expect(result.stdout).toContain('DEP-LOADED');
          expect(result.stdout).toContain('no ENOENT\nno ENOENT\n');
          expect(result.code).toBe(0);
        },
      );
    }

    it.skipIf(!available[tier] || !isRoot)(
      `${tier}, as root: a root-only file in a private directory the link names stays out`,
      async () => {
        const script = packageLinkingTo(secretDir(0o700, 'ROOT-ONLY-SECRET'));
        const result = await oacpCli(['run', '--tier', tier, '--', process.execPath, script]);
        expect(result.stdout + result.stderr).not.toContain('ROOT-ONLY-SECRET');
        expect(result.stdout).toContain('DEP-LOADED');
        expect(result.code).toBe(0);
      },
    );
  }

  it.skipIf(!available.hardened)(
    'oacp mcp run shares the rule: the server reads nothing through the link',
    async () => {
      // Written to stderr, which the bridge relays (escaped, masked); a line on stdout that is not
      // JSON is reported without its text, so what the server found would not be seen there.
      const script = packageLinkingTo(secretDir(0o755, 'MCP-LINKED-SECRET'), 'error');
      const home = mkdtempSync(join(root, 'home-'));
      execFileSync(
        process.execPath,
        [
          join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js'),
          '--home',
          join(home, '.oacp'),
          'init',
        ],
        {
          env: { PATH: '/usr/bin:/bin', HOME: home },
        },
      );
      const result = await oacpCli(
        ['--home', join(home, '.oacp'), 'mcp', 'run', '--', process.execPath, script],
        { env: { HOME: home }, holdStdinUntil: /no ENOENT\nno ENOENT|exited|AIRLOCK/ },
      );
      expect(result.stdout + result.stderr).not.toContain('MCP-LINKED-SECRET');
      expect(result.stdout + result.stderr).toContain('DEP-LOADED');
    },
  );
});
