import { appendFileSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog, shippedCatalogDir } from '../../src/mcp/catalog/catalog.js';
import { runFlags } from '../../src/mcp/catalog/entry.js';
import { ParsedCatalogEntries } from '../../src/mcp/catalog/parsed-entries.js';
import { oacp } from '../cli/harness.js';
import { scratchDir } from '../scratch-dirs.js';

describe('the catalog shipped with OACP', () => {
  it('holds at least 10 servers, each signed by the catalog key, with pinned tools and a trust note', () => {
    const catalog = new Catalog();
    const names = catalog.names();
    expect(names.length).toBeGreaterThanOrEqual(10);
    expect(names).toEqual(
      expect.arrayContaining(['filesystem', 'memory', 'everything', 'sequential-thinking']),
    );
    for (const name of names) {
      const entry = catalog.get(name);
      expect(entry.tools.length, name).toBeGreaterThan(0);
      expect(entry.capabilities.tools.allow).toEqual(entry.tools.map((tool) => tool.name));
      expect(entry.trust.note).toContain(entry.version);
      expect(entry.tree_digest).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(catalog.search('github').map((entry) => entry.name)).toEqual(['github']);
    expect(catalog.search('read_graph').map((entry) => entry.name)).toEqual(['memory']);
  });

  it('refuses an entry changed after signing, or signed by another key', () => {
    const dir = scratchDir('oacp-catalog-');
    cpSync(shippedCatalogDir(), dir, { recursive: true });
    // The attack: widen the memory server's grants in the shipped file.
    appendFileSync(join(dir, 'memory.yaml'), '# network: { allowlist: ["*"] }\n');
    expect(() => new Catalog(dir).get('memory')).toThrow(/CATALOG_SIGNATURE|changed after it was signed/);
    const sig = JSON.parse(readFileSync(join(dir, 'github.yaml.sig'), 'utf8'));
    writeFileSync(
      join(dir, 'github.yaml.sig'),
      JSON.stringify({ ...sig, did: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK' }),
    );
    expect(() => new Catalog(dir).get('github')).toThrow(/not the catalog key/);
    expect(() => new Catalog(dir).get('nope')).toThrow(/no catalogued server "nope"/);
  });

  it('keeps parsed entries in the home by the digest of their signed bytes, and still verifies the bytes first', () => {
    const dir = scratchDir('oacp-catalog-');
    cpSync(shippedCatalogDir(), dir, { recursive: true });
    const path = join(scratchDir('oacp-catalog-home-'), 'catalog-entries.json');
    const parsed = new ParsedCatalogEntries(path);
    const fresh = new Catalog(dir, parsed).get('memory');
    const sig = JSON.parse(readFileSync(join(dir, 'memory.yaml.sig'), 'utf8'));
    const cached = JSON.parse(readFileSync(path, 'utf8'));
    expect(Object.keys(cached.entries)).toEqual([sig.sha256]);
    expect(new Catalog(dir, parsed).get('memory')).toEqual(fresh);
    // A cached value is used only through the entry schema: one that fails it is parsed again from the YAML.
    writeFileSync(path, JSON.stringify({ version: 1, entries: { [sig.sha256]: { name: 'memory' } } }));
    expect(new Catalog(dir, parsed).get('memory')).toEqual(fresh);
    // The attack: the YAML changes under a cached entry. The signature check runs before the cache is read.
    appendFileSync(join(dir, 'memory.yaml'), '# network: { allowlist: ["*"] }\n');
    expect(() => new Catalog(dir, parsed).get('memory')).toThrow(/changed after it was signed/);
  });

  it('oacp mcp show prints the trust note, the grants and the exact command that runs it', async () => {
    const shown = await oacp(['mcp', 'show', 'github']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('publisher  Model Context Protocol project');
    expect(shown.stdout).toContain('network    api.github.com');
    expect(shown.stdout).toMatch(
      / {2}same as {2}oacp mcp run --allow-network api\.github\.com --allow-env GITHUB_PERSONAL_ACCESS_TOKEN --tools \S+ npm:@modelcontextprotocol\/server-github@/,
    );
    const entry = new Catalog().get('github');
    expect(runFlags(entry).slice(0, 4)).toEqual([
      '--allow-network',
      'api.github.com',
      '--allow-env',
      'GITHUB_PERSONAL_ACCESS_TOKEN',
    ]);
    const search = await oacp(['mcp', 'search', 'search']);
    expect(search.stdout).toContain('brave-search');
  });
});
