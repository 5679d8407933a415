import { chmodSync, chownSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { safeDirectory } from './safe-directory.js';

const isRoot = process.getuid?.() === 0;

describe('safeDirectory', () => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'oacp-test-safe-dir-')));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const dir = (path: string, mode: number): string => {
    mkdirSync(path, { recursive: true });
    chmodSync(path, mode);
    return path;
  };

  it('accepts a directory of ours, closed to others, under a sticky /tmp; by its real path', () => {
    const cache = dir(join(root, 'ok', 'cache'), 0o700);
    expect(safeDirectory(cache)).toBe(cache);
    symlinkSync(cache, join(root, 'link'));
    expect(safeDirectory(join(root, 'link'))).toBe(cache);
  });

  it('attack: refuses one others may write (group or world), or whose parent others may write and is not sticky', () => {
    expect(safeDirectory(dir(join(root, 'world'), 0o777))).toBeUndefined();
    expect(safeDirectory(dir(join(root, 'group'), 0o770))).toBeUndefined();
    dir(join(root, 'shared'), 0o777);
    expect(safeDirectory(dir(join(root, 'shared', 'cache'), 0o700))).toBeUndefined();
    dir(join(root, 'sticky'), 0o1777);
    expect(safeDirectory(dir(join(root, 'sticky', 'cache'), 0o700))).toBe(join(root, 'sticky', 'cache'));
    expect(safeDirectory(join(root, 'missing'))).toBeUndefined();
  });

  it.skipIf(!isRoot)('attack: refuses one another uid owns, or under a directory another uid owns', () => {
    const theirs = dir(join(root, 'theirs'), 0o755);
    chownSync(theirs, 1000, 1000);
    expect(safeDirectory(theirs)).toBeUndefined();
    expect(safeDirectory(dir(join(theirs, 'cache'), 0o700))).toBeUndefined();
  });
});
