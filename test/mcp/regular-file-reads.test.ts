import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { directDigester, StampedDigester } from '../../src/mcp/file-digests.js';
import { treeDigest } from '../../src/mcp/packages/tree-digest.js';
import { serverIdentity } from '../../src/mcp/server-identity.js';
import { tempDir } from '../cli/harness.js';

const DIST = join(import.meta.dirname, '..', '..', 'dist');

/** `code` run in a fresh node that imports the built module, killed after 10 s: a blocked read must not hang vitest. */
function inChild(code: string): { status: number | null; stdout: string; stderr: string; killed: boolean } {
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    encoding: 'utf8',
    timeout: 10_000,
    killSignal: 'SIGKILL',
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, killed: run.signal === 'SIGKILL' };
}

/**
 * The server identity and the package store's tree digest read code files by path after
 * checking them (a swap in between chose what was read: a symlink was followed, a FIFO
 * blocked the main thread forever) and whole into memory (a 1 GiB file cost 1 GiB). They
 * now read one descriptor opened without following or blocking, fstat'd, in bounded chunks.
 */
describe('files digested as code are read from one regular-file descriptor, in chunks', () => {
  const dir = tempDir('oacp-regular-file-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('attack: a symlink put where a checked file was is refused, not followed (direct and stamped digests)', () => {
    const secret = join(dir, 'secret');
    writeFileSync(secret, 'not the server\n');
    const link = join(dir, 'server.js');
    symlinkSync(secret, link);
    expect(() => directDigester.sha256(link)).toThrow(expect.objectContaining({ code: 'ELOOP' }));
    const stamped = new StampedDigester(join(dir, 'stamps.json'));
    expect(() => stamped.sha256(link)).toThrow(expect.objectContaining({ code: 'ELOOP' }));
    // The file itself still digests, and the stamped digest agrees with the direct one.
    const expected = createHash('sha256').update('not the server\n').digest('hex');
    expect(directDigester.sha256(secret)).toBe(expected);
    expect(stamped.sha256(secret)).toBe(expected);
    expect(stamped.sha256(secret)).toBe(expected);
  });

  it('attack: a FIFO put where a checked file was is refused at once instead of blocking the main thread', () => {
    const fifo = join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const run = inChild(
      `import { directDigester } from '${join(DIST, 'mcp', 'file-digests.js')}';
       try { directDigester.sha256('${fifo}'); console.log('read'); }
       catch (error) { console.log('refused ' + error.code); }`,
    );
    expect(run.killed).toBe(false);
    expect(run.stdout.trim()).toBe('refused ENOTREG');
    const tree = join(dir, 'tree');
    mkdirSync(tree);
    // A FIFO listed as such is part of the digest; only one swapped in after the listing is refused.
    const listed = inChild(
      `import { treeDigest } from '${join(DIST, 'mcp', 'packages', 'tree-digest.js')}';
       import { execFileSync } from 'node:child_process';
       execFileSync('mkfifo', ['${join(tree, 'p')}']);
       console.log(treeDigest('${tree}').length);`,
    );
    expect(listed.killed).toBe(false);
    expect(listed.stdout.trim()).toBe('64');
  });

  it("the package.json's digest and its name and version come from one read; a symlinked package.json is still followed once, to its real path", () => {
    const pkg = join(dir, 'pkg');
    mkdirSync(pkg);
    const manifest = '{"name":"srv","version":"1.2.3","main":"server.js"}';
    writeFileSync(join(pkg, 'real-package.json'), manifest);
    symlinkSync(join(pkg, 'real-package.json'), join(pkg, 'package.json'));
    writeFileSync(join(pkg, 'server.js'), '// server\n');
    const identity = serverIdentity('srv', process.execPath, [join(pkg, 'server.js')]);
    expect(identity.package).toMatchObject({
      path: join(pkg, 'package.json'),
      sha256: createHash('sha256').update(manifest).digest('hex'),
      name: 'srv',
      version: '1.2.3',
    });
  });

  it('attack: a 1 GiB file in a stored tree is hashed in bounded chunks, not held whole in memory', () => {
    const tree = join(dir, 'big-tree');
    mkdirSync(tree);
    const size = 1024 * 1024 * 1024;
    const fd = openSync(join(tree, 'big.bin'), 'w');
    closeSync(fd);
    // Sparse: no disk is used, but a whole-file read still needs 1 GiB of memory.
    expect(spawnSync('truncate', ['-s', String(size), join(tree, 'big.bin')]).status).toBe(0);
    const zeros = Buffer.alloc(16 * 1024 * 1024);
    const content = createHash('sha256');
    for (let done = 0; done < size; done += zeros.length) content.update(zeros);
    const expected = createHash('sha256')
      .update(`f "big.bin" - ${content.digest('hex')}\n`)
      .digest('hex');
    const before = process.resourceUsage().maxRSS;
    expect(treeDigest(tree)).toBe(expected);
    const grewKiB = process.resourceUsage().maxRSS - before;
    expect(grewKiB).toBeLessThan(256 * 1024);
  }, 60_000);
});
