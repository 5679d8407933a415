import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './harness.js';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * Install like a user: pack the package (dist must be built: npm test builds it first), install the
 * tarball globally into a clean prefix, and run the installed `oacp demo` with nothing from this
 * clone on PATH. Slow (npm installs every runtime dependency): one test.
 */
describe('npm pack + npm install -g', () => {
  it('gives a working oacp whose demo verifies and leaves no temp folder', () => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js')))
      throw new Error('dist is missing: run npm run build first');
    const work = tempDir('oacp-install-');
    // The sandbox runs as nobody when this runs as root: the installed code must be reachable.
    chmodSync(work, 0o755);
    execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', work], {
      cwd: ROOT,
      stdio: 'ignore',
    });
    const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    const prefix = join(work, 'prefix');
    execFileSync(
      'npm',
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        join(work, tarball ?? ''),
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
      ],
      { cwd: work, stdio: 'ignore', timeout: 900_000 },
    );
    const bin = join(prefix, 'bin', 'oacp');
    expect(existsSync(bin)).toBe(true);
    const temp = join(work, 'tmp');
    execFileSync('mkdir', ['-m', '755', temp]);
    const env = { PATH: `${join(prefix, 'bin')}:/usr/bin:/bin`, HOME: join(work, 'home'), TMPDIR: temp };
    const demo = execFileSync(bin, ['demo'], { cwd: work, env, encoding: 'utf8', timeout: 300_000 });
    expect(demo).toContain('demo complete: every receipt verified, the tampered one was refused');
    expect(readdirSync(temp)).toEqual([]);
    const help = execFileSync(bin, ['--help'], { cwd: work, env, encoding: 'utf8' });
    expect(help).toContain('mcp');
  }, 1_200_000);
});
