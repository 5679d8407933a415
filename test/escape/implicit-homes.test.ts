import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { CLI, isRoot, openDir } from './confine-harness.js';

/**
 * Issue 9, item 2 (implicit read paths): an interpreter in an account's
 * `~/bin` widens to nothing but itself, whoever `$HOME` names. Before,
 * only `$HOME` counted as a home, so root (or a service, or CI) running
 * `/home/alice/bin/node` with `HOME=/root` granted all of /home/alice
 * (ssh keys, tokens) read-only. The account here is made up: the CLI runs
 * in its own mount namespace where /etc/passwd lists it (root only).
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};
const SECRET = 'ALICE-SSH-PRIVATE-KEY';

describe.skipIf(!isRoot)("an interpreter in another account's ~/bin", () => {
  const root = openDir('oacp-implicit-home-');
  const home = join(root, 'alice');
  const node = join(home, 'bin', 'node');
  const passwd = join(root, 'passwd');
  mkdirSync(join(home, 'bin'), { recursive: true });
  mkdirSync(join(home, '.ssh'));
  chmodSync(home, 0o755);
  copyFileSync(realpathSync(process.execPath), node);
  chmodSync(node, 0o755);
  // World-readable, so only the grant can keep it out (the sandbox's uid is not alice's).
  writeFileSync(join(home, '.ssh', 'id_ed25519'), SECRET, { mode: 0o644 });
  writeFileSync(passwd, `root:x:0:0:root:/root:/bin/sh\nalice:x:1234:1234::${home}:/bin/sh\n`);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const withAccount = (args: readonly string[]): Promise<{ code: number; out: string }> =>
    new Promise((resolve) => {
      execFile(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount --bind "$0" /etc/passwd && exec "$@"',
          passwd,
          process.execPath,
          CLI,
          ...args,
        ],
        { env: { PATH: '/usr/bin:/bin', HOME: '/root' }, timeout: 120_000 },
        (error, stdout, stderr) =>
          resolve({
            code: typeof error?.code === 'number' ? error.code : error ? 1 : 0,
            out: stdout + stderr,
          }),
      );
    });

  for (const tier of ['hardened', 'gvisor'] as const) {
    it.skipIf(!available[tier])(`${tier}: sees the interpreter, not the home around it`, async () => {
      const script = [
        'const fs = require("fs");',
        `try { console.log("HOME-ENTRIES", fs.readdirSync(${JSON.stringify(home)}).join(",")); } catch (e) { console.log("no home", e.code); }`,
        `try { console.log(fs.readFileSync(${JSON.stringify(join(home, '.ssh', 'id_ed25519'))}, "utf8")); } catch (e) { console.log("no key", e.code); }`,
      ].join('\n');
      const result = await withAccount(['run', '--no-receipt', '--tier', tier, '--', node, '-e', script]);
      expect(result.out).not.toContain(SECRET);
      expect(result.out).toContain('no key ENOENT');
      // The interpreter ran (so the refusal is the grant's, not a failed start) and its home shows only bin/.
      expect(result.out).toContain('HOME-ENTRIES bin\n');
      expect(result.code).toBe(0);
    });
  }
});
