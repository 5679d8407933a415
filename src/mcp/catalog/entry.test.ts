import { describe, expect, it } from 'vitest';
import { parseMcpRunOptions } from '../options.js';
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

  it('attack: a read-only manifest path that ends like a mode (/data:rw) is refused, never granted writable', () => {
    const grants = entryGrants(entry({ file_read: ['/srv', '/data:rw'], file_write: ['/out'] }));
    expect(grants.allowFiles).toEqual(['/srv:ro', '/data:rw:ro', '/out:rw']);
    expect(() => parseMcpRunOptions({ command: ['x'], allowFiles: grants.allowFiles })).toThrow(
      '--allow-files /data:rw:ro: the grant mode ":rw:ro" must be one of :ro or :rw (PATH, PATH:ro or PATH:rw)',
    );
  });
});
