import { z } from 'zod';
import { JsonCacheFile } from '../json-cache-file.js';

/** At most this many entries are kept: the catalog is a few dozen files. */
const MAX_ENTRIES = 128;

const ParsedFileSchema = z.strictObject({
  version: z.literal(1),
  /** sha256 of a signed entry file's exact bytes -> that file parsed (checked again by the entry schema on use). */
  entries: z.record(z.string().regex(/^[0-9a-f]{64}$/), z.unknown()),
});

/**
 * Catalog entries already parsed, keyed by the digest of the signed bytes
 * they were parsed from, so that `oacp mcp run` does not load the YAML
 * library at every start. A value is only used after the entry file's
 * signature has verified and names that same digest, and it still goes
 * through CatalogEntrySchema; the file lives in the home beside the package
 * pins (anyone able to rewrite it could rewrite the pins too). Missing or
 * malformed: the entry is parsed from its YAML, as without a cache.
 */
export class ParsedCatalogEntries {
  readonly #cache: JsonCacheFile<typeof ParsedFileSchema>;

  constructor(path: string) {
    this.#cache = new JsonCacheFile(path, ParsedFileSchema, () => ({ version: 1 as const, entries: {} }));
  }

  /** The parsed document recorded for these signed bytes, if any. */
  get(sha256: string): unknown {
    return this.#cache.read().entries[sha256];
  }

  put(sha256: string, parsed: unknown): void {
    const kept = Object.entries(this.#cache.read().entries).filter(([digest]) => digest !== sha256);
    const entries = Object.fromEntries([...kept.slice(-(MAX_ENTRIES - 1)), [sha256, parsed]]);
    this.#cache.write({ version: 1, entries });
  }
}
