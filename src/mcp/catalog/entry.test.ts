import { describe, expect, it } from 'vitest';
import { CatalogEntrySchema, entryGrants, runFlags } from './entry.js';

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
});
