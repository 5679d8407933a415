import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { ATTACKERS, isRoot, oacpCli, openDir, type REGULAR_USER, who } from './confine-harness.js';

/**
 * Issue 9, item 2 (implicit read paths: the package root of the script): the
 * package root is the nearest directory above the script holding a
 * package.json. In a shared temporary directory (world-writable and sticky,
 * like /tmp or /var/tmp, but not /tmp itself) any other user could plant one:
 * a script in `SHARED/job/` then granted all of SHARED read-only (other users'
 * files, a planted node_modules), and a script in a private (0700) job
 * directory could no longer start. A shared temporary directory is never a
 * package root or a node_modules parent: the script alone is granted.
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};
const users = ATTACKERS;
/** Another local account that plants files (only root can act as one). */
const PLANTER = { uid: 1234, gid: 1234 };
const OTHER = 'ANOTHER-USERS-FILE';

describe('a package.json planted in a shared temporary directory', () => {
  const root = openDir('oacp-shared-tmp-');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const sharedWithPlant = (): string => {
    const shared = mkdtempSync(join(root, 'shared-'));
    chmodSync(shared, 0o1777);
    const plant = [
      `echo '{"name":"planted"}' > ${shared}/package.json`,
      `echo ${OTHER} > ${shared}/notes.txt`,
      `mkdir -p ${shared}/node_modules/planted`,
      `echo 'module.exports = "PLANTED-MODULE"' > ${shared}/node_modules/planted/index.js`,
      `chmod -R a+rX ${shared}/package.json ${shared}/notes.txt ${shared}/node_modules`,
    ].join(' && ');
    const as = isRoot
      ? ['/usr/bin/setpriv', `--reuid=${PLANTER.uid}`, `--regid=${PLANTER.gid}`, '--clear-groups']
      : [];
    execFileSync(as[0] ?? '/bin/sh', [...as.slice(1), ...(isRoot ? ['/bin/sh'] : []), '-c', plant]);
    return shared;
  };

  const jobScript = (shared: string, mode: number, user: typeof REGULAR_USER | undefined): string => {
    const job = join(shared, `job-${mode.toString(8)}`);
    mkdirSync(job);
    const script = join(job, 'run.js');
    writeFileSync(
      script,
      [
        'const fs = require("fs");',
        'console.log("SCRIPT-RAN");',
        `try { console.log("SHARED", fs.readdirSync(${JSON.stringify(shared)}).join(",")); } catch (e) { console.log("no shared", e.code); }`,
        `try { console.log(fs.readFileSync(${JSON.stringify(join(shared, 'notes.txt'))}, "utf8")); } catch (e) { console.log("no notes", e.code); }`,
        'try { console.log(require("planted")); } catch (e) { console.log("no planted", e.code); }',
      ].join('\n'),
      { mode: 0o644 },
    );
    if (user !== undefined) {
      chownSync(job, user.uid, user.gid);
      chownSync(script, user.uid, user.gid);
    }
    chmodSync(job, mode);
    return script;
  };

  for (const tier of ['hardened', 'gvisor'] as const) {
    for (const user of users) {
      for (const mode of [0o755, 0o700]) {
        it.skipIf(!available[tier])(
          `${tier}, ${who(user)}, job directory ${mode.toString(8)}: the script runs, nothing of the shared directory is granted`,
          async () => {
            const shared = sharedWithPlant();
            const script = jobScript(shared, mode, user);
            const result = await oacpCli(['run', '--tier', tier, '--', process.execPath, script], {
              ...(user === undefined ? {} : { asUser: user }),
            });
            expect(result.stdout + result.stderr).not.toContain(OTHER);
            expect(result.stdout + result.stderr).not.toContain('PLANTED-MODULE');
            expect(result.stdout).toContain('SCRIPT-RAN');
            // Only the path down to the script shows: none of the other users' entries.
            expect(result.stdout).toContain(`SHARED job-${mode.toString(8)}\n`);
            expect(result.stdout).toContain('no notes ENOENT');
            expect(result.stdout).toContain('no planted MODULE_NOT_FOUND');
            expect(result.code).toBe(0);
          },
        );
      }
    }
  }
});
