import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sandboxEtcView } from './sandbox-etc.js';
import { systemRootEntries } from './system-root.js';

const isRoot = process.getuid?.() === 0;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

describe('the sandbox /etc', () => {
  it('is one view in a writable launcher cache', () => {
    const cache = mkdtempSync(join(tmpdir(), 'oacp-etc-'));
    cleanups.push(() => rmSync(cache, { recursive: true, force: true }));
    const binds = sandboxEtcView(cache, systemRootEntries(), 1234, 1234, () => {
      throw new Error('a writable cache needs no scratch directory');
    });
    expect(binds[0]?.target).toBe('/etc');
    expect(binds[0]?.source.startsWith(join(cache, 'etc-view-'))).toBe(true);
  });

  // A read-only root (the cgroup v2 test VM mounts the host's root read-only, as a container image
  // may be): the launcher and the synthetic files were made in advance, the view cannot be.
  it.runIf(isRoot)(
    "builds this start's own view in a scratch directory when the launcher cache is read-only",
    () => {
      const cache = mkdtempSync(join(tmpdir(), 'oacp-etc-ro-'));
      const scratch = mkdtempSync(join(tmpdir(), 'oacp-etc-scratch-'));
      cleanups.push(() => rmSync(cache, { recursive: true, force: true }));
      cleanups.push(() => rmSync(scratch, { recursive: true, force: true }));
      execFileSync('mount', ['--bind', cache, cache]);
      cleanups.push(() => execFileSync('umount', [cache]));
      execFileSync('mount', ['-o', 'remount,bind,ro', cache]);
      const binds = sandboxEtcView(cache, systemRootEntries(), 1234, 1234, () => scratch);
      expect(binds[0]?.target).toBe('/etc');
      expect(binds[0]?.source.startsWith(join(scratch, 'etc-view-'))).toBe(true);
      expect(readFileSync(join(binds[0]?.source ?? '', 'passwd'), 'utf8')).toContain('sandbox:x:1234:1234:');
      expect(readFileSync(join(binds[0]?.source ?? '', 'ld.so.cache'))).toEqual(
        readFileSync('/etc/ld.so.cache'),
      );
      expect(readdirSync(cache)).toEqual([]);
    },
  );
});
