import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildHelper } from '../../src/airlock/native/launcher/build.js';
import { HARDENED_RUN_AS_UID1000, oacpAsUid1000, tempDir, uid1000Home } from '../cli/harness.js';

/**
 * The launcher every confined sandbox starts through is compiled on first use. The compiler
 * ran with OACP's whole environment, so CPATH (or COMPILER_PATH, GCC_EXEC_PREFIX, LD_PRELOAD,
 * a CC wrapper's settings) in the invoking shell chose the headers, tools or libraries that
 * built it. It now runs with fixed system PATH, the C locale and a private TMPDIR only.
 */
describe('the launcher is built in a minimal environment', () => {
  const dir = tempDir('oacp-build-env-');
  chmodSync(dir, 0o755);
  // A stdio.h that takes the build over: found first through CPATH, were CPATH passed on.
  const evil = join(dir, 'include');
  mkdirSync(evil);
  chmodSync(evil, 0o755);
  writeFileSync(join(evil, 'stdio.h'), '#error the invoking environment chose this header\n', {
    mode: 0o644,
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("attack (root): CPATH naming a hostile stdio.h in OACP's environment does not reach the compiler", () => {
    const saved = process.env.CPATH;
    process.env.CPATH = evil;
    let built: string | undefined;
    try {
      // A source of its own, so the cache cannot answer and the compiler really runs.
      const source = `/* ${randomBytes(8).toString('hex')} */\n#include <stdio.h>\nint main(void) { return puts("ok") < 0; }\n`;
      built = buildHelper({ name: 'oacp-env-probe', source });
      expect(built).toMatch(/oacp-env-probe-[0-9a-f]{16}$/);
    } finally {
      if (saved === undefined) delete process.env.CPATH;
      else process.env.CPATH = saved;
      if (built !== undefined) rmSync(built, { force: true });
    }
  });

  it('attack (uid 1000): oacp run --tier hardened with CPATH set and an empty launcher cache builds the real launcher and runs', () => {
    const home = uid1000Home(dir);
    const run = oacpAsUid1000(
      ['--home', join(home, '.oacp'), ...HARDENED_RUN_AS_UID1000, '--', '/bin/true'],
      home,
      {
        CPATH: evil,
        XDG_CACHE_HOME: join(home, 'cache'),
      },
    );
    expect(run.stderr).not.toContain('cannot build the launcher');
    expect(run.code).toBe(0);
  });
});
