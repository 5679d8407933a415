import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HardenedTier } from '../../../src/airlock/native/hardened.js';
import type { ProcessTier } from '../../../src/airlock/sandbox.js';
import { createTierRegistry } from '../../../src/airlock/tiers.js';
import { sandboxedScripts } from '../../../src/mcp/packages/install-scripts.js';

/**
 * The install scripts' sandbox (sandboxedScripts), below `oacp mcp add --allow-scripts`
 * (test/cli/mcp-add-scripts.test.ts): a script that never ends is stopped by the wall-clock
 * limit, and a host without the hardened tier refuses instead of running anything.
 */
const hardened = (await new HardenedTier().availability()).available;
const scratch = mkdtempSync(join(tmpdir(), 'oacp-install-scripts-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A staging folder as npm leaves it with scripts off: one package whose postinstall does `postinstall`. */
function staging(tag: string, postinstall: string): string {
  const dir = join(scratch, tag);
  const pkg = join(dir, 'node_modules', 'waits');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'entry', private: true, dependencies: { waits: '1.0.0' } }),
  );
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({ name: 'waits', version: '1.0.0', scripts: { postinstall } }),
  );
  return dir;
}

describe('install scripts sandbox', () => {
  it.skipIf(!hardened)(
    'stops scripts that outlive the wall-clock limit, with PACKAGE_SCRIPTS',
    async () => {
      const dir = staging('sleeps', `node -e "require('fs').writeFileSync('started','')" && sleep 600`);
      const home = join(scratch, 'home');
      mkdirSync(home, { recursive: true });
      const lines: string[] = [];
      const runner = sandboxedScripts({
        home,
        allowUnenforced: process.getuid?.() === 0 ? [] : ['memory', 'pids', 'cpu', 'disk_io'],
        log: (line) => lines.push(line),
        wallMs: 3000,
      });
      const started = Date.now();
      await expect(runner.run(dir)).rejects.toMatchObject({
        code: 'PACKAGE_SCRIPTS',
        message: expect.stringContaining('did not finish within 3 s'),
      });
      expect(Date.now() - started).toBeLessThan(20_000);
      // The script did start (so the limit, not a failure to start, ended it).
      expect(existsSync(join(dir, 'node_modules', 'waits', 'started'))).toBe(true);
    },
    60_000,
  );

  it('refuses with the tier remedy when the hardened tier is unavailable, and runs nothing', async () => {
    const dir = staging('no-tier', `node -e "require('fs').writeFileSync('ran','')"`);
    const missing = new HardenedTier({ bwrapPath: join(scratch, 'no-bwrap') });
    const runner = sandboxedScripts({
      home: join(scratch, 'home'),
      allowUnenforced: [],
      log: () => undefined,
      tiers: createTierRegistry<ProcessTier>([missing]),
    });
    await expect(runner.ready(dir)).rejects.toThrow(/bubblewrap not found.*apt-get install bubblewrap/s);
    await expect(runner.run(dir)).rejects.toThrow(/bubblewrap not found/);
    expect(readdirSync(join(dir, 'node_modules', 'waits'))).toEqual(['package.json']);
  });
});
