import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { ATTACKERS, oacpCli, openDir, type REGULAR_USER, who } from './confine-harness.js';

/**
 * Issue 9, item 2 (implicit read paths: an interpreter's install prefix, never
 * a system or home directory): `/usr/local` was too broad to be a prefix, but
 * a home's `~/.local`, its per-user twin, was not. node in `~/.local/bin`
 * (`n` with N_PREFIX=~/.local, a tarball copied there) granted all of
 * `~/.local` read-only, `~/.local/share/keyrings` included, in both tiers,
 * as root and as a regular user. It now grants the interpreter alone.
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};
const users = ATTACKERS;
const SECRET = 'LOCAL-SHARE-KEYRING';

describe('an interpreter in ~/.local/bin', () => {
  const root = openDir('oacp-local-prefix-');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const homeWithLocalNode = (user: typeof REGULAR_USER | undefined): { home: string; node: string } => {
    const home = mkdtempSync(join(root, 'home-'));
    const node = join(home, '.local', 'bin', 'node');
    mkdirSync(join(home, '.local', 'bin'), { recursive: true });
    mkdirSync(join(home, '.local', 'share', 'keyrings'), { recursive: true });
    copyFileSync(realpathSync(process.execPath), node);
    // World-readable, so only the grant can keep it out.
    writeFileSync(join(home, '.local', 'share', 'keyrings', 'login.keyring'), SECRET, { mode: 0o644 });
    execFileSync('chmod', ['-R', 'a+rX', home]);
    if (user !== undefined) execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, home]);
    return { home, node };
  };

  for (const tier of ['hardened', 'gvisor'] as const) {
    for (const user of users) {
      it.skipIf(!available[tier])(
        `${tier}, ${who(user)}: runs the interpreter, grants nothing of ~/.local`,
        async () => {
          const { home, node } = homeWithLocalNode(user);
          const keyring = join(home, '.local', 'share', 'keyrings', 'login.keyring');
          const script = [
            'const fs = require("fs");',
            `try { console.log(fs.readFileSync(${JSON.stringify(keyring)}, "utf8")); } catch (e) { console.log("no keyring", e.code); }`,
            `try { console.log("LOCAL", fs.readdirSync(${JSON.stringify(join(home, '.local'))}).join(",")); } catch (e) { console.log("no local", e.code); }`,
          ].join('\n');
          const result = await oacpCli(['run', '--tier', tier, '--', node, '-e', script], {
            env: { HOME: home },
            ...(user === undefined ? {} : { asUser: user }),
          });
          expect(result.stdout + result.stderr).not.toContain(SECRET);
          expect(result.stdout).toContain('no keyring ENOENT');
          // The interpreter ran (the refusal is the grant's, not a failed start): ~/.local shows bin/ only.
          expect(result.stdout).toContain('LOCAL bin\n');
          expect(result.code).toBe(0);
        },
      );
    }
  }
});
