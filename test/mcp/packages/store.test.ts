import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostNpm } from '../../../src/mcp/packages/npm-cli.js';
import { PackageStore } from '../../../src/mcp/packages/store.js';
import { treeDigest } from '../../../src/mcp/packages/tree-digest.js';

const MEMORY = '@modelcontextprotocol/server-memory';

describe('package store (real npm, real registry)', () => {
  it('installs a pinned version with npm, checks the registry integrity, names the tree by its digest', async () => {
    const home = mkdtempSync(join(tmpdir(), 'oacp-store-home-'));
    const store = new PackageStore(home, hostNpm(), { trees: join(home, 'trees') });
    const resolved = await store.resolve({ name: MEMORY, range: '2026.8.31' });
    expect(resolved).toMatchObject({ name: MEMORY, version: '2026.8.31' });
    expect(resolved.integrity).toMatch(/^sha512-/);
    const stored = await store.install(resolved);
    expect(stored.root).toBe(join(home, 'trees', 'trees', stored.digest));
    expect(treeDigest(stored.root)).toBe(stored.digest);
    const lock = JSON.parse(readFileSync(join(stored.root, 'package-lock.json'), 'utf8'));
    expect(lock.packages[`node_modules/${MEMORY}`].integrity).toBe(resolved.integrity);

    // The attack: someone edits the stored code after it was pinned.
    store.pins.set(MEMORY, {
      version: stored.version,
      integrity: stored.integrity,
      digest: stored.digest,
      scripts: false,
    });
    expect((await store.pinned(MEMORY))?.digest).toBe(stored.digest);
    appendFileSync(join(stored.root, 'node_modules', MEMORY, 'dist', 'index.js'), '\n// injected\n');
    await expect(store.pinned(MEMORY)).rejects.toThrow(/modified on disk.*oacp mcp add npm:/);
  }, 240_000);

  it('refuses a version the registry does not have, naming it', async () => {
    const home = mkdtempSync(join(tmpdir(), 'oacp-store-home-'));
    const store = new PackageStore(home, hostNpm(), { trees: join(home, 'trees') });
    await expect(store.resolve({ name: MEMORY, range: '0.0.0-nope' })).rejects.toThrow(
      /server-memory@0\.0\.0-nope/,
    );
  }, 60_000);
});
