import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cachedEtcView } from './etc-view.js';
import type { SystemEntry } from './system-root.js';

/**
 * The view's sources are host /etc files (only direct children of /etc are
 * taken): these tests read the host's own, and the one that changes a file
 * makes a file of its own there (as root) and removes it. The views are
 * built in a temporary cache directory.
 */
let cache: string;
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), 'oacp-etc-view-'));
  chmodSync(cache, 0o755);
});
afterEach(() => rmSync(cache, { recursive: true, force: true }));

const hostFile = (path: string): SystemEntry => ({ kind: 'bind', path, directory: false });
const hostDir = (path: string): SystemEntry => ({ kind: 'bind', path, directory: true });

describe('the sandbox /etc view', () => {
  it('copies world-readable files, adds the synthetic ones and an empty mount point per directory', () => {
    const binds = cachedEtcView(cache, [hostFile('/etc/services'), hostDir('/etc/ssl')], { hosts: 'h\n' });
    const view = binds[0]?.source ?? '';
    expect(binds).toEqual([
      { source: view, target: '/etc' },
      { source: '/etc/ssl', target: '/etc/ssl' },
    ]);
    expect(readFileSync(join(view, 'services'))).toEqual(readFileSync('/etc/services'));
    expect(readFileSync(join(view, 'hosts'), 'utf8')).toBe('h\n');
    expect(statSync(join(view, 'ssl')).isDirectory()).toBe(true);
    expect(statSync(join(view, 'services')).mode & 0o777).toBe(0o444);
    expect(statSync(view).mode & 0o777).toBe(0o755);
    // The same inputs give the same view, without building it again.
    expect(cachedEtcView(cache, [hostFile('/etc/services'), hostDir('/etc/ssl')], { hosts: 'h\n' })).toEqual(
      binds,
    );
  });

  it('never copies a file others cannot read: it stays a bind of its own, over an empty mount point', () => {
    const binds = cachedEtcView(cache, [hostFile('/etc/shadow')], {});
    expect(binds.slice(1)).toEqual([{ source: '/etc/shadow', target: '/etc/shadow' }]);
    expect(statSync(join(binds[0]?.source ?? '', 'shadow')).size).toBe(0);
  });

  it('takes only direct children of /etc', () => {
    const binds = cachedEtcView(
      cache,
      [hostFile('/etc/ssl/openssl.cnf'), hostFile('/usr/lib/os-release')],
      {},
    );
    expect(binds).toHaveLength(1);
  });

  it.skipIf(process.getuid?.() !== 0)(
    'is a new view with the new content after the host file changes',
    () => {
      // A file of our own in the host's /etc (root only), removed afterwards.
      const path = `/etc/oacp-etc-view-test-${process.pid}`;
      try {
        writeFileSync(path, 'one\n', { mode: 0o644 });
        const first = cachedEtcView(cache, [hostFile(path)], {})[0]?.source ?? '';
        writeFileSync(path, 'two\n');
        const second = cachedEtcView(cache, [hostFile(path)], {})[0]?.source ?? '';
        expect(second).not.toBe(first);
        expect(readFileSync(join(second, basename(path)), 'utf8')).toBe('two\n');
        // Made private: no longer copied, bound instead (what the sandbox user can read of it is the kernel's call).
        chmodSync(path, 0o600);
        const third = cachedEtcView(cache, [hostFile(path)], {});
        expect(third[1]).toEqual({ source: path, target: path });
        expect(statSync(join(third[0]?.source ?? '', basename(path))).size).toBe(0);
      } finally {
        rmSync(path, { force: true });
      }
    },
  );

  it('is a new view when the synthetic content changes (another identity)', () => {
    const a = cachedEtcView(cache, [], { passwd: 'a\n' })[0]?.source;
    const b = cachedEtcView(cache, [], { passwd: 'b\n' })[0]?.source;
    expect(a).not.toBe(b);
    expect(readFileSync(join(b ?? '', 'passwd'), 'utf8')).toBe('b\n');
  });

  it('replaces a view at its name that others could write, never uses it', () => {
    const view = cachedEtcView(cache, [], { hosts: 'h\n' })[0]?.source ?? '';
    // An attacker's version at the same name, world-writable.
    rmSync(view, { recursive: true });
    mkdirSync(view, { mode: 0o777 });
    chmodSync(view, 0o777);
    writeFileSync(join(view, 'hosts'), 'evil\n');
    expect(cachedEtcView(cache, [], { hosts: 'h\n' })[0]?.source).toBe(view);
    expect(readFileSync(join(view, 'hosts'), 'utf8')).toBe('h\n');
    expect(statSync(view).mode & 0o777).toBe(0o755);
  });

  describe('old views', () => {
    const daysAgo = (path: string, days: number): void => {
      const seconds = Date.now() / 1000 - days * 86_400;
      utimesSync(path, seconds, seconds);
    };

    it('removes views no start has bound for a day when a new one is built, and keeps the rest', () => {
      const stale = cachedEtcView(cache, [], { passwd: 'old\n' })[0]?.source ?? '';
      const recent = cachedEtcView(cache, [], { passwd: 'recent\n' })[0]?.source ?? '';
      daysAgo(stale, 2);
      daysAgo(recent, 0.5);
      // A killed build left behind, and a directory of the same shape that is not ours to remove (world-writable).
      const abandoned = mkdtempSync(join(cache, '.etc-view-'));
      daysAgo(abandoned, 1);
      const foreign = join(cache, 'etc-view-0123456789abcdef');
      mkdirSync(foreign);
      chmodSync(foreign, 0o777);
      daysAgo(foreign, 30);
      const fresh = cachedEtcView(cache, [], { passwd: 'new\n' })[0]?.source ?? '';
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(abandoned)).toBe(false);
      expect(existsSync(recent)).toBe(true);
      expect(existsSync(foreign)).toBe(true);
      expect(readFileSync(join(fresh, 'passwd'), 'utf8')).toBe('new\n');
      // Nothing half removed is left under another name.
      expect(
        readdirSync(cache)
          .filter((name) => name.startsWith('.'))
          .sort(),
      ).toEqual([]);
    });

    it('keeps a view in use: a start that binds it stamps it, so a later build does not remove it', () => {
      const used = cachedEtcView(cache, [], { passwd: 'used\n' })[0]?.source ?? '';
      daysAgo(used, 2);
      // A start of this identity binds it again: it is stamped as used now.
      expect(cachedEtcView(cache, [], { passwd: 'used\n' })[0]?.source).toBe(used);
      expect(Date.now() - statSync(used).mtimeMs).toBeLessThan(60 * 60 * 1000);
      cachedEtcView(cache, [], { passwd: 'other\n' });
      expect(readFileSync(join(used, 'passwd'), 'utf8')).toBe('used\n');
    });

    it('never removes the view it returns, however old its inputs', () => {
      const view = cachedEtcView(cache, [], { passwd: 'same\n' })[0]?.source ?? '';
      rmSync(view, { recursive: true });
      // Rebuilt at the same name; the prune that follows the build must leave it.
      expect(cachedEtcView(cache, [], { passwd: 'same\n' })[0]?.source).toBe(view);
      expect(readFileSync(join(view, 'passwd'), 'utf8')).toBe('same\n');
    });
  });
});
