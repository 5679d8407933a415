import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { launcherCacheDirectory } from '../../src/airlock/native/launcher/build.js';
import { oacpBinary, tempDir } from '../cli/harness.js';

/**
 * docs/hardened-tier.md accepts that /proc/self/mountinfo names the launcher cache's host
 * paths (the /etc view, the launcher, the filter): names only, never the OACP home.
 */
describe('what /proc/self/mountinfo tells a hardened workload', () => {
  const dir = tempDir('oacp-mountinfo-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names the launcher cache (accepted, documented) and never the OACP home', () => {
    const home = join(dir, 'home');
    const run = oacpBinary([
      '--home',
      home,
      'run',
      '--no-receipt',
      '--tier',
      'hardened',
      '--',
      '/bin/cat',
      '/proc/self/mountinfo',
    ]);
    expect(run.code).toBe(0);
    const roots = run.stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.split(' ')[3] ?? '');
    const cache = launcherCacheDirectory();
    expect(
      roots
        .filter((root) => root.startsWith(`${cache}/`))
        .map((root) => root.slice(cache.length + 1).replace(/-[0-9a-f]{16}$/, '')),
    ).toEqual(expect.arrayContaining(['etc-view', 'oacp-launch', 'workload-filter']));
    expect(run.stdout).not.toContain(home);
  });
});
