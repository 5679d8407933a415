import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deskTokenDir, writeDeskToken } from './desk-token.js';

const scratch = mkdtempSync(join(tmpdir(), 'oacp-desk-token-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the approval desk's token file", () => {
  it('attack: two bridges with the same pid (other PID namespaces) on one home keep their own tokens', () => {
    const home = join(scratch, 'shared');
    const first = writeDeskToken(home, 'first-token', 7);
    const second = writeDeskToken(home, 'second-token', 7);
    expect(second.path).not.toBe(first.path);
    // The operator of the first bridge still reads the first bridge's token from the file it logged.
    expect(readFileSync(first.path, 'utf8')).toBe('first-token\n');
    expect(readFileSync(second.path, 'utf8')).toBe('second-token\n');
    for (const path of [first.path, second.path]) {
      expect(dirname(path)).toBe(deskTokenDir(home));
      expect(basename(path)).toMatch(/^7-[0-9a-f]{32}\.token$/);
      expect(statSync(path).mode & 0o777).toBe(0o600);
    }
    expect(statSync(deskTokenDir(home)).mode & 0o777).toBe(0o700);
    second.remove();
    expect(readFileSync(first.path, 'utf8')).toBe('first-token\n');
    first.remove();
  });

  it('attack: a directory planted as a symlink, or one open to others, is refused', () => {
    const linked = join(scratch, 'linked');
    const elsewhere = join(scratch, 'elsewhere');
    mkdirSync(linked);
    mkdirSync(elsewhere, { mode: 0o777 });
    chmodSync(elsewhere, 0o777);
    symlinkSync(elsewhere, deskTokenDir(linked));
    expect(() => writeDeskToken(linked, 'secret-token')).toThrow(/closed to others \(0700\)/);
    const open = join(scratch, 'open');
    mkdirSync(deskTokenDir(open), { recursive: true });
    chmodSync(deskTokenDir(open), 0o755);
    expect(() => writeDeskToken(open, 'secret-token')).toThrow(/approval-desks must be a directory/);
  });
});
