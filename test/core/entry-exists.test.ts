import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { entryExists } from '../../src/core/entry-exists.js';

const dir = mkdtempSync(join(tmpdir(), 'oacp-entry-exists-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('entryExists', () => {
  it('is true for a file and for a symlink whose target is gone (lstat, never followed), false for nothing', () => {
    writeFileSync(join(dir, 'file'), 'x');
    symlinkSync(join(dir, 'missing'), join(dir, 'dangling'));
    expect(entryExists(join(dir, 'file'))).toBe(true);
    expect(entryExists(join(dir, 'dangling'))).toBe(true);
    expect(entryExists(join(dir, 'missing'))).toBe(false);
    expect(entryExists(join(dir, 'file', 'under-a-file'))).toBe(false);
  });
});
