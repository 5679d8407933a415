import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMcpRunOptions } from '../../src/mcp/options.js';
import { serverIdentity } from '../../src/mcp/server-identity.js';
import { defaultName, upstreamFor } from '../../src/mcp/upstream-from-options.js';

const REPO = join(import.meta.dirname, '..', '..');
/** The name does not depend on digests: skip hashing the ~100 MB node executable per case. */
const CHEAP_DIGESTS = { sha256: () => '0'.repeat(64) };

/**
 * The name a server gets without `--name` (receipts, policies' `context.server`, the banner):
 * its package's name only when the code that runs is that package's entry (a `bin` target or
 * `main`); any other script below a package.json is named by its own base name, so a fixture
 * inside this repository is not called "oacp".
 */
describe('default MCP server name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-default-name-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const pkg = (name: string, json: Record<string, unknown>, files: readonly string[]) => {
    const root = join(dir, name);
    mkdirSync(join(root, 'lib'), { recursive: true });
    writeFileSync(join(root, 'package.json'), JSON.stringify(json));
    for (const file of files) writeFileSync(join(root, file), '#!/usr/bin/env node\n');
    return root;
  };
  const nameOf = (command: string, ...args: string[]) =>
    defaultName(serverIdentity('server', command, args, CHEAP_DIGESTS));

  it('is the package name (without scope) when the script is its bin entry', () => {
    const root = pkg('a', { name: '@acme/notes-server', bin: { notes: 'lib/cli.js' } }, ['lib/cli.js']);
    expect(nameOf(process.execPath, join(root, 'lib', 'cli.js'))).toBe('notes-server');
    const single = pkg('b', { name: 'weather', bin: './lib/run.js' }, ['lib/run.js']);
    expect(nameOf(process.execPath, join(single, 'lib', 'run.js'))).toBe('weather');
  });

  it('is the package name when the script is its main, with or without the extension, or index.js by default', () => {
    const main = pkg('c', { name: 'mainly', main: 'lib/server' }, ['lib/server.js']);
    expect(nameOf(process.execPath, join(main, 'lib', 'server.js'))).toBe('mainly');
    const index = pkg('d', { name: 'indexed' }, ['index.js']);
    expect(nameOf(process.execPath, join(index, 'index.js'))).toBe('indexed');
  });

  it('is the package name when the command itself is the bin (a shebang script reached through a link)', () => {
    const root = pkg('e', { name: 'linked', bin: { linked: 'lib/bin.js' } }, ['lib/bin.js']);
    chmodSync(join(root, 'lib', 'bin.js'), 0o755);
    symlinkSync(join(root, 'lib', 'bin.js'), join(dir, 'linked-bin'));
    expect(nameOf(join(dir, 'linked-bin'))).toBe('linked');
  });

  it('is the script base name when the script is not the entry of the package above it', () => {
    const root = pkg('f', { name: 'big-repo', main: 'lib/index.js', bin: { big: 'lib/cli.js' } }, [
      'lib/index.js',
      'lib/cli.js',
      'lib/helper-server.js',
    ]);
    expect(nameOf(process.execPath, join(root, 'lib', 'helper-server.js'))).toBe('helper-server');
    writeFileSync(join(root, 'lib', 'module-server.mjs'), '');
    expect(nameOf(process.execPath, join(root, 'lib', 'module-server.mjs'))).toBe('module-server');
    // A package.json that is not JSON names nothing.
    const broken = join(dir, 'g');
    mkdirSync(broken);
    writeFileSync(join(broken, 'package.json'), '{ not json');
    writeFileSync(join(broken, 'index.js'), '');
    expect(nameOf(process.execPath, join(broken, 'index.js'))).toBe('index');
  });

  it('names a fixture of this repository after its file, not "oacp" (this repository\'s package)', async () => {
    const fixture = join(REPO, 'test', 'mcp', 'fixtures', 'raw-server.mjs');
    const upstream = await upstreamFor(
      parseMcpRunOptions({ command: [process.execPath, fixture], tier: 'light' }),
      { env: {} },
      () => undefined,
    );
    expect(upstream.identity.name).toBe('raw-server');
    expect(upstream.identity.package?.name).toBe('oacp');
  });
});
