import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectCgroupHost } from '../../src/airlock/cgroups/index.js';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';

/**
 * Issue 9, item 7 (every refusal names the flag that lifts it), and before any side effect: as a
 * regular user on a host where that user has no cgroup controller (cgroup v1), `oacp mcp run --
 * npx -y PKG` installed PKG into the package store (up to 100 s) and only then refused for the
 * limits it cannot enforce. The refusal comes first now, with nothing installed.
 */
const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const isRoot = process.getuid?.() === 0;
// Root decides for uid 1000 only on a cgroup v1 host (v1 controllers are root's alone).
const memory = detectCgroupHost().memory;
const v1 = memory.available && memory.version === 1;
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};

describe.skipIf(!isRoot || !v1)(
  'oacp mcp run refuses unenforceable limits before installing a package',
  () => {
    const scratch = mkdtempSync(join(tmpdir(), 'oacp-refusal-first-'));
    chownSync(scratch, 1000, 1000);
    afterAll(() => rmSync(scratch, { recursive: true, force: true }));
    const asUser = (args: readonly string[]): Promise<{ code: number; stderr: string }> =>
      new Promise((resolve) => {
        execFile(
          '/usr/bin/setpriv',
          ['--reuid=1000', '--regid=1000', '--clear-groups', process.execPath, CLI, ...args],
          { env: { PATH: '/usr/bin:/bin', HOME: scratch }, cwd: scratch, timeout: 240_000 },
          (error, _stdout, stderr) =>
            resolve({ code: typeof error?.code === 'number' ? error.code : error ? 1 : 0, stderr }),
        );
      });

    for (const tier of ['hardened', 'gvisor'] as const) {
      it.skipIf(!available[tier])(
        `${tier}: refuses naming --allow-unenforced, and the store stays empty`,
        async () => {
          if (!existsSync(join(scratch, '.oacp'))) expect((await asUser(['init'])).code).toBe(0);
          const started = Date.now();
          const result = await asUser([
            'mcp',
            'run',
            '--tier',
            tier,
            '--',
            'npx',
            '-y',
            '@modelcontextprotocol/server-memory@2025.4.25',
          ]);
          expect(result.code).toBe(1);
          expect(result.stderr).toContain('AIRLOCK_LIMIT_UNENFORCED');
          expect(result.stderr).toMatch(/--allow-unenforced memory,pids,cpu\b/);
          expect(result.stderr).not.toMatch(/install|npm/i);
          expect(existsSync(join(scratch, '.cache', 'oacp', 'packages'))).toBe(false);
          expect(existsSync(join(scratch, '.oacp', 'mcp', 'packages'))).toBe(false);
          expect(Date.now() - started).toBeLessThan(30_000);
        },
        300_000,
      );
    }
  },
);
