import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { accountOacpHomePaths } from './protected-paths.js';

const root = mkdtempSync(join(tmpdir(), 'oacp-protected-paths-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('accountOacpHomePaths: every account home is asked for its ~/.oacp on each start', () => {
  it('finds a home by name and real path through a symlinked ~/.oacp, and skips accounts with none, a dangling one or a file as home', () => {
    const real = join(root, 'store', 'oacp-real');
    mkdirSync(real, { recursive: true });
    writeFileSync(join(real, 'master.key'), 'k', { mode: 0o600 });
    const linked = join(root, 'alice');
    mkdirSync(linked);
    symlinkSync(real, join(linked, '.oacp'));
    const none = join(root, 'bob');
    mkdirSync(none);
    const dangling = join(root, 'carol');
    mkdirSync(dangling);
    symlinkSync(join(root, 'gone'), join(dangling, '.oacp'));
    const fileHome = join(root, 'dave');
    writeFileSync(fileHome, 'not a directory');
    const found = accountOacpHomePaths([none, dangling, fileHome, join(root, 'missing'), linked]).filter(
      (home) => home.name.startsWith(root),
    );
    expect(found).toEqual([{ name: join(linked, '.oacp'), real }]);
  });
});
