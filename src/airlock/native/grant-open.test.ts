import { closeSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openNoFollow } from './grant-open.js';
import { overlapsProtected } from './protected-paths.js';

describe('openNoFollow', () => {
  const root = mkdtempSync(join(tmpdir(), 'oacp-open-'));
  mkdirSync(join(root, 'dir/sub'), { recursive: true });
  writeFileSync(join(root, 'dir/sub/file'), 'x');
  symlinkSync(join(root, 'dir'), join(root, 'link'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('opens a real path and hands back a descriptor that names it', () => {
    const opened = openNoFollow(join(root, 'dir/sub'));
    expect(opened?.directory).toBe(true);
    expect(readlinkSync(`/proc/self/fd/${opened?.fd}`)).toBe(join(root, 'dir/sub'));
    if (opened !== undefined) closeSync(opened.fd);
  });

  it('refuses a symlink at any component, naming it', () => {
    expect(() => openNoFollow(join(root, 'link/sub/file'))).toThrow(
      `cannot grant ${join(root, 'link/sub/file')}: ${join(root, 'link')} is a symbolic link`,
    );
    expect(() => openNoFollow(join(root, 'link'))).toThrow('is a symbolic link');
  });

  it('answers undefined for a missing path and refuses relative or dotted ones', () => {
    expect(openNoFollow(join(root, 'missing/file'))).toBeUndefined();
    expect(() => openNoFollow('relative/path')).toThrow('not an absolute path');
    expect(() => openNoFollow(`${root}/dir/../dir`)).toThrow('not a normalized path');
  });
});

describe('overlapsProtected', () => {
  const homes = ['/home/op/.oacp'];
  it('catches a grant inside the home, the home itself and any parent of it', () => {
    expect(overlapsProtected('/home/op/.oacp/keys', homes)).toBe('/home/op/.oacp');
    expect(overlapsProtected('/home/op/.oacp', homes)).toBe('/home/op/.oacp');
    expect(overlapsProtected('/home/op', homes)).toBe('/home/op/.oacp');
    expect(overlapsProtected('/', homes)).toBe('/home/op/.oacp');
  });
  it('leaves siblings alone, including a name that merely starts the same', () => {
    expect(overlapsProtected('/home/op/.oacp-other', homes)).toBeUndefined();
    expect(overlapsProtected('/home/op/project', homes)).toBeUndefined();
  });
});

describe('prepareSpec', () => {
  it('refuses a wildcard that expands to more paths than can be bound, naming the fix', async () => {
    const { prepareSpec } = await import('./prepare.js');
    const { ManifestSchema } = await import('../../capability/manifest.js');
    const dir = mkdtempSync(join(tmpdir(), 'oacp-many-'));
    try {
      for (let index = 0; index < 205; index++) writeFileSync(join(dir, `f${index}.txt`), '');
      const manifest = ManifestSchema.parse({
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name: 'many',
        capabilities: { file_read: [`${dir}/*.txt`] },
      });
      expect(() =>
        prepareSpec({ command: '/bin/true', args: [], manifest }, 'hardened', '/usr/bin/socat'),
      ).toThrow('over 200; grant their directory with /** instead of a wildcard');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
