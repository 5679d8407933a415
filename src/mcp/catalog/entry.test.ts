import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manifestFromOptions } from '../manifest-from-options.js';
import { parseMcpRunOptions } from '../options.js';
import { Catalog, shippedCatalogDir } from './catalog.js';
import { CatalogEntrySchema, entryGrants, runFlags } from './entry.js';
import { ParsedCatalogEntries } from './parsed-entries.js';
import { withCatalogEntry } from './run-input.js';

const entry = (capabilities: unknown) =>
  CatalogEntrySchema.parse({
    ...Object.fromEntries(['name', 'description', 'package', 'version'].map((key) => [key, 'x'])),
    tree_digest: 'a'.repeat(64),
    trust: { publisher: 'p', note: 'n' },
    capabilities,
    tools: [],
  });

describe('catalog entry grants', () => {
  it('passes capabilities.unix_sockets on as --allow-unix-sockets, and only when true', () => {
    expect(entryGrants(entry({ unix_sockets: true })).allowUnixSockets).toBe(true);
    expect(runFlags(entry({ unix_sockets: true }))).toEqual(['--allow-unix-sockets']);
    expect(entryGrants(entry({})).allowUnixSockets).toBe(false);
    expect(runFlags(entry({ unix_sockets: false }))).toEqual([]);
  });

  it('attack: a read-only manifest path that ends like a mode (/data:rw) is refused, never granted writable', () => {
    const grants = entryGrants(entry({ file_read: ['/srv', '/data:rw'], file_write: ['/out'] }));
    expect(grants.allowFiles).toEqual(['/srv:ro', '/data:rw:ro', '/out:rw']);
    expect(() => parseMcpRunOptions({ command: ['x'], allowFiles: grants.allowFiles })).toThrow(
      '--allow-files /data:rw:ro: the grant mode ":rw:ro" must be one of :ro or :rw (PATH, PATH:ro or PATH:rw)',
    );
  });

  it('passes capabilities.network.node_preload: false on as --no-node-preload (docs/egress.md, "Opting out")', () => {
    const off = entry({ network: { allowlist: ['api.example.com'], node_preload: false } });
    expect(entryGrants(off).nodePreload).toBe(false);
    expect(runFlags(off)).toEqual(['--allow-network', 'api.example.com', '--no-node-preload']);
    expect(runFlags(entry({ network: { node_preload: true } }))).toEqual([]);
    expect(entryGrants(entry({})).nodePreload).toBe(true);
  });

  it('oacp mcp run --catalog NAME runs a manifest that opts out of the preload without it', () => {
    // The shipped memory entry, its signed bytes unchanged, as the home's parsed cache holds it with the opt-out.
    const dir = mkdtempSync(join(tmpdir(), 'oacp-catalog-'));
    cpSync(shippedCatalogDir(), dir, { recursive: true });
    const parsed = new ParsedCatalogEntries(join(dir, 'catalog-entries.json'));
    const memory = new Catalog(dir, parsed).get('memory');
    const { sha256 } = JSON.parse(readFileSync(join(dir, 'memory.yaml.sig'), 'utf8'));
    const optedOut = {
      ...memory,
      capabilities: { ...memory.capabilities, network: { allowlist: [], node_preload: false } },
    };
    writeFileSync(
      join(dir, 'catalog-entries.json'),
      JSON.stringify({ version: 1, entries: { [sha256]: optedOut } }),
    );
    const catalog = new Catalog(dir, parsed);
    const options = parseMcpRunOptions(withCatalogEntry({ catalog: 'memory' }, catalog));
    expect(options.nodePreload).toBe(false);
    expect(manifestFromOptions(options, 'memory').capabilities.network.node_preload).toBe(false);
    // The shipped entry keeps the preload; a --no-node-preload given by hand still wins over it.
    const shipped = new Catalog(dir);
    expect(parseMcpRunOptions(withCatalogEntry({ catalog: 'memory' }, shipped)).nodePreload).toBe(true);
    expect(
      parseMcpRunOptions(withCatalogEntry({ catalog: 'memory', nodePreload: false }, shipped)).nodePreload,
    ).toBe(false);
  });
});
