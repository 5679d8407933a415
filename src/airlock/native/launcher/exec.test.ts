import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { launcherBuild } from './build.js';

/**
 * The launcher's last step is execvp. glibc's runs a file the kernel cannot
 * exec (a script without #!) under /bin/sh, as POSIX has it; musl's does not,
 * so a launcher linked against musl does it itself: a workload behaves the
 * same whichever C library the host built the launcher with.
 */
describe('the launcher execs as execvp does with glibc', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'oacp-exec-test-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const launcher = launcherBuild().path;
  const bin = join(scratch, 'bin');
  mkdirSync(bin);
  const script = join(bin, 'no-shebang');
  writeFileSync(script, 'echo "from sh:" "$@"\n', { mode: 0o755 });
  const env = { PATH: `${bin}:/usr/bin:/bin` };

  it('runs a script without #! under /bin/sh, by path and by name on PATH, with its arguments', () => {
    expect(execFileSync(launcher, ['--', script, 'a b', 'c'], { env }).toString()).toBe('from sh: a b c\n');
    expect(execFileSync(launcher, ['--', 'no-shebang', 'x'], { env }).toString()).toBe('from sh: x\n');
  });

  it('still refuses what execvp refuses: a missing name, a file without the execute bit', () => {
    const missing = spawnSync(launcher, ['--', 'no-such-program'], { env });
    expect(missing.status).toBe(126);
    expect(missing.stderr.toString()).toBe(
      'oacp-launch: cannot exec no-such-program: No such file or directory\n',
    );
    const closed = join(bin, 'not-executable');
    writeFileSync(closed, 'echo ran\n', { mode: 0o644 });
    chmodSync(closed, 0o644);
    const denied = spawnSync(launcher, ['--', 'not-executable'], { env });
    expect(denied.status).toBe(126);
    expect(denied.stdout.toString()).toBe('');
    expect(denied.stderr.toString()).toBe('oacp-launch: cannot exec not-executable: Permission denied\n');
  });
});
