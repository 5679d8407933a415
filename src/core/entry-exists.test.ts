import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { entryExists } from './entry-exists.js';

describe('entryExists: a name is there whatever it points to', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-entry-exists-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('counts a symlink to nothing (a marker planted before its target must count), not an absent name', () => {
    const file = join(dir, 'master.key');
    writeFileSync(file, 'k');
    const dangling = join(dir, 'airlock.json');
    symlinkSync(join(dir, 'not-yet'), dangling);
    const loop = join(dir, 'loop');
    symlinkSync(loop, loop);
    expect(entryExists(file)).toBe(true);
    expect(entryExists(dir)).toBe(true);
    // access(F_OK) follows the link and says no: the lstat behind it says yes.
    expect(entryExists(dangling)).toBe(true);
    expect(entryExists(loop)).toBe(true);
    expect(entryExists(join(dir, 'absent'))).toBe(false);
    expect(entryExists(join(file, 'below-a-file'))).toBe(false);
  });
});
