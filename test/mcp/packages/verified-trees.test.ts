import {
  chmodSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { treeDigest } from '../../../src/mcp/packages/tree-digest.js';
import { VerifiedTrees } from '../../../src/mcp/packages/verified-trees.js';
import { scratchDir } from '../../scratch-dirs.js';

/** A small installed-looking tree, its digest, and a verifier whose stamp of it is recorded. */
async function stampedTree(): Promise<{
  root: string;
  expected: string;
  verified: VerifiedTrees;
  stamps: string;
}> {
  const dir = scratchDir('oacp-verified-');
  const root = join(dir, 'tree');
  mkdirSync(join(root, 'node_modules', 'server', 'dist'), { recursive: true });
  mkdirSync(join(root, 'node_modules', '.bin'));
  writeFileSync(join(root, 'node_modules', 'server', 'dist', 'index.js'), 'console.log("tools");\n');
  writeFileSync(join(root, 'node_modules', 'server', 'package.json'), '{"name":"server"}\n');
  symlinkSync('../server/dist/index.js', join(root, 'node_modules', '.bin', 'server'));
  const expected = treeDigest(root);
  const stamps = join(dir, 'verified.json');
  const verified = new VerifiedTrees(stamps);
  expect(await verified.digest(root, expected)).toBe(expected);
  // The full digest matched: the stamp is recorded, and the next check trusts it while it holds.
  expect(readFileSync(stamps, 'utf8')).toContain(expected);
  expect(await verified.digest(root, expected)).toBe(expected);
  return { root, expected, verified, stamps };
}

describe('the package tree check with its metadata stamp', () => {
  it('an in-place rewrite of a file, same size, mtime set back, is still caught', async () => {
    const { root, expected, verified } = await stampedTree();
    const file = join(root, 'node_modules', 'server', 'dist', 'index.js');
    const before = statSync(file);
    writeFileSync(file, 'process.exit(7); //\n'.padEnd(before.size, ' ').slice(0, before.size));
    utimesSync(file, before.atime, before.mtime);
    expect(statSync(file).size).toBe(before.size);
    expect(await verified.digest(root, expected)).not.toBe(expected);
  });

  it('an added file, a removed file and a chmod +x are caught', async () => {
    const added = await stampedTree();
    writeFileSync(join(added.root, 'node_modules', 'server', 'dist', 'extra.js'), 'evil()\n');
    expect(await added.verified.digest(added.root, added.expected)).not.toBe(added.expected);
    const removed = await stampedTree();
    unlinkSync(join(removed.root, 'node_modules', 'server', 'package.json'));
    expect(await removed.verified.digest(removed.root, removed.expected)).not.toBe(removed.expected);
    const mode = await stampedTree();
    chmodSync(join(mode.root, 'node_modules', 'server', 'dist', 'index.js'), 0o755);
    expect(await mode.verified.digest(mode.root, mode.expected)).not.toBe(mode.expected);
  });

  it('a symlink pointed elsewhere and a directory swapped for a symlink to a copy are caught', async () => {
    const link = await stampedTree();
    const bin = join(link.root, 'node_modules', '.bin', 'server');
    unlinkSync(bin);
    symlinkSync('/tmp/evil.js', bin);
    expect(await link.verified.digest(link.root, link.expected)).not.toBe(link.expected);
    const swapped = await stampedTree();
    const dist = join(swapped.root, 'node_modules', 'server', 'dist');
    const elsewhere = scratchDir('oacp-verified-elsewhere-');
    renameSync(dist, join(elsewhere, 'dist'));
    symlinkSync(join(elsewhere, 'dist'), dist);
    expect(await swapped.verified.digest(swapped.root, swapped.expected)).not.toBe(swapped.expected);
    rmSync(elsewhere, { recursive: true, force: true });
  });

  it('a forged or stale stamp only costs a full digest, which still says what the tree is', async () => {
    const { root, expected, verified, stamps } = await stampedTree();
    writeFileSync(stamps, JSON.stringify({ version: 1, trees: { [expected]: '0'.repeat(64) } }));
    expect(await verified.digest(root, expected)).toBe(expected);
    writeFileSync(join(root, 'node_modules', 'server', 'dist', 'index.js'), 'evil()\n');
    writeFileSync(stamps, 'not json');
    expect(await verified.digest(root, expected)).not.toBe(expected);
  });
});
