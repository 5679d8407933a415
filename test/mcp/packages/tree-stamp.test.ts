import {
  chmodSync,
  mkdirSync,
  renameSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findStamp, walkStamp } from '../../../src/mcp/packages/tree-stamp.js';
import { scratchDir } from '../../scratch-dirs.js';

/** A small installed-looking tree. */
function tree(): string {
  const root = join(scratchDir('oacp-stamp-'), 'tree');
  mkdirSync(join(root, 'node_modules', 'server', 'dist'), { recursive: true });
  mkdirSync(join(root, 'node_modules', '.bin'));
  writeFileSync(join(root, 'node_modules', 'server', 'dist', 'index.js'), 'console.log("tools");\n');
  writeFileSync(join(root, 'node_modules', 'server', 'package.json'), '{"name":"server"}\n');
  symlinkSync('../server/dist/index.js', join(root, 'node_modules', '.bin', 'server'));
  return root;
}

const changes: Record<string, (root: string) => void> = {
  'a file rewritten in place, same size, mtime set back': (root) => {
    const file = join(root, 'node_modules', 'server', 'dist', 'index.js');
    const before = statSync(file);
    writeFileSync(file, 'process.exit(7); //\n'.padEnd(before.size, ' ').slice(0, before.size));
    utimesSync(file, before.atime, before.mtime);
  },
  'a file added': (root) =>
    writeFileSync(join(root, 'node_modules', 'server', 'dist', 'extra.js'), 'evil()\n'),
  'a file removed': (root) => unlinkSync(join(root, 'node_modules', 'server', 'package.json')),
  'a chmod +x': (root) => chmodSync(join(root, 'node_modules', 'server', 'dist', 'index.js'), 0o755),
  'a symlink pointed elsewhere': (root) => {
    const bin = join(root, 'node_modules', '.bin', 'server');
    unlinkSync(bin);
    symlinkSync('/tmp/evil.js', bin);
  },
  'a directory swapped for a symlink to a copy': (root) => {
    const dist = join(root, 'node_modules', 'server', 'dist');
    const elsewhere = scratchDir('oacp-stamp-elsewhere-');
    renameSync(dist, join(elsewhere, 'dist'));
    symlinkSync(join(elsewhere, 'dist'), dist);
  },
};

const methods: Record<string, (root: string) => Promise<string | undefined>> = {
  'GNU find': (root) => findStamp(root),
  'the walk in node': async (root) => walkStamp(root),
};

describe('the package tree stamp, by either method', () => {
  for (const [method, stamp] of Object.entries(methods)) {
    for (const [change, apply] of Object.entries(changes)) {
      it(`${method}: ${change} moves the stamp`, async () => {
        const root = tree();
        const before = await stamp(root);
        expect(before).toMatch(/^[0-9a-f]{64}$/);
        expect(await stamp(root)).toBe(before);
        apply(root);
        expect(await stamp(root)).not.toBe(before);
      });
    }
  }

  it('a find that fails, complains or prints its directives literally stamps nothing (the walk is used)', async () => {
    const root = tree();
    const bin = scratchDir('oacp-stamp-find-');
    const fake = (name: string, body: string): string => {
      const path = join(bin, name);
      writeFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
      return path;
    };
    // A find without -printf (busybox, BSD) echoing the format, exiting 0: no ctime, no stamp.
    expect(await findStamp(root, [fake('literal', `printf '%s\\0' "$4"`)])).toBeUndefined();
    expect(await findStamp(root, [fake('fails', 'exit 1')])).toBeUndefined();
    expect(
      await findStamp(root, [
        fake('complains', `printf 'd 755 4096 1:2 1.000000000 1.000000000 \\0'; echo 'find: denied' >&2`),
      ]),
    ).toBeUndefined();
    expect(await findStamp(root, [fake('silent', 'exit 0')])).toBeUndefined();
    expect(await findStamp(root, [join(bin, 'absent')])).toBeUndefined();
  });
});
