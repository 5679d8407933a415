import { chmodSync, lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cachedFile } from './cached-file.js';

const dir = mkdtempSync(join(tmpdir(), 'oacp-cached-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('cachedFile: shared read-only files beside the launcher', () => {
  it('writes a file once, read-only, named by its content', () => {
    const path = cachedFile(dir, 'etc-hosts', '127.0.0.1 localhost\n');
    expect(cachedFile(dir, 'etc-hosts', '127.0.0.1 localhost\n')).toBe(path);
    expect(readFileSync(path, 'utf8')).toBe('127.0.0.1 localhost\n');
    expect(lstatSync(path).mode & 0o777).toBe(0o444);
    expect(cachedFile(dir, 'etc-hosts', '::1 localhost\n')).not.toBe(path);
  });

  it('replaces a file others could have written, and a symlink put in its place, instead of binding it', () => {
    const path = cachedFile(dir, 'etc-passwd', 'root:x:0:0::/tmp:/bin/sh\n');
    // The attack: the file is made world-writable and rewritten.
    chmodSync(path, 0o666);
    writeFileSync(path, 'root:x:0:0::/:/bin/evil\n');
    expect(readFileSync(cachedFile(dir, 'etc-passwd', 'root:x:0:0::/tmp:/bin/sh\n'), 'utf8')).toBe(
      'root:x:0:0::/tmp:/bin/sh\n',
    );
    expect(lstatSync(path).mode & 0o777).toBe(0o444);
    // The attack: a symlink to a host file under the expected name.
    rmSync(path);
    symlinkSync('/etc/shadow', path);
    expect(lstatSync(cachedFile(dir, 'etc-passwd', 'root:x:0:0::/tmp:/bin/sh\n')).isFile()).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('root:x:0:0::/tmp:/bin/sh\n');
  });
});
