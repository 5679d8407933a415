import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { isRoot, oacpCli, openDir, uidListed } from './confine-harness.js';

/**
 * Issue 9, item 2 (never the OACP home), for a home made by a program using OACP as a library:
 * only `oacp init` registered homes, so `KeyStore.init('/srv/a/b/c/oacp')` from a program left a
 * home that no registry listed, and a grant of `/srv` (deeper than the marker look below a grant
 * reaches) showed its master key. `KeyStore.init` now registers the home itself. The library runs
 * in a child process, as the invoker and as a uid with no passwd entry (whose registry is under a
 * scratch `$HOME`, so no real account's registry is touched).
 */
const KEYSTORE = join(import.meta.dirname, '..', '..', 'dist', 'identity', 'keystore.js');
const NAMELESS = { uid: 1241, gid: 1241 };
const available = (await new HardenedTier().availability()).available;
const users = [undefined, ...(isRoot && !uidListed(NAMELESS.uid) ? [NAMELESS] : [])];

describe.skipIf(!available)('a home made by KeyStore.init, not the CLI', () => {
  const root = openDir('oacp-library-registry-');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  for (const user of users) {
    it(`is registered and guarded four levels below a grant (${user === undefined ? 'as the invoker' : 'as a uid with no passwd entry'})`, async () => {
      const base = join(root, user === undefined ? 'invoker' : 'nameless');
      const operator = join(base, 'operator');
      const srv = join(base, 'srv');
      for (const dir of [base, operator, srv]) {
        mkdirSync(dir);
        if (user !== undefined) chownSync(dir, user.uid, user.gid);
      }
      const home = join(srv, 'a', 'b', 'c', 'oacp');
      const as =
        user === undefined ? [] : ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups'];
      execFileSync(
        as[0] ?? process.execPath,
        [
          ...as.slice(1),
          ...(user === undefined ? [] : [process.execPath]),
          '--input-type=module',
          '-e',
          'const { KeyStore } = await import(process.argv[1]); await KeyStore.init(process.argv[2], { env: {} });',
          KEYSTORE,
          home,
        ],
        { env: { PATH: '/usr/bin:/bin', HOME: operator } },
      );
      const attack = await oacpCli(
        ['run', '--allow-files', srv, '--', '/usr/bin/od', '-An', '-tx1', join(home, 'master.key')],
        { env: { HOME: operator }, ...(user === undefined ? {} : { asUser: user }) },
      );
      expect(attack.stdout).toBe('');
      expect(attack.code).not.toBe(0);
      expect(attack.stderr).toContain(`overlaps the OACP home ${home}`);
    }, 120_000);
  }
});
