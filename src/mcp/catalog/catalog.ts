import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OacpError } from '../../core/errors.js';
import { yaml } from '../../core/yaml.js';
import { type CatalogEntry, CatalogEntrySchema } from './entry.js';
import type { CatalogErrorCode } from './errors.js';
import type { ParsedCatalogEntries } from './parsed-entries.js';
import { CatalogKeySchema, CatalogSignatureSchema, checkSignature } from './signature.js';

/** The catalog folder shipped in the package (`catalog/` beside `dist/`). */
export function shippedCatalogDir(): string {
  return fileURLToPath(new URL('../../../catalog/', import.meta.url));
}

/**
 * The servers catalogued with OACP. Every entry is checked against the
 * catalog key before it is returned: an entry whose signature is missing or
 * wrong is refused by name, never shown as reviewed.
 */
export class Catalog {
  readonly keyDid: string;
  readonly #dir: string;
  readonly #parsed: ParsedCatalogEntries | undefined;

  /** `parsed`: where entries already parsed are kept (the home's cache), so most starts load no YAML. */
  constructor(dir = shippedCatalogDir(), parsed?: ParsedCatalogEntries) {
    this.#dir = dir;
    this.#parsed = parsed;
    const key = CatalogKeySchema.safeParse(readJson(join(dir, 'catalog-key.json')));
    if (!key.success) {
      throw new OacpError<CatalogErrorCode>(
        'CATALOG_INVALID',
        `${join(dir, 'catalog-key.json')} is malformed`,
      );
    }
    this.keyDid = key.data.did;
  }

  names(): string[] {
    if (!existsSync(this.#dir)) return [];
    return readdirSync(this.#dir)
      .filter((file) => file.endsWith('.yaml'))
      .map((file) => file.slice(0, -'.yaml'.length))
      .sort();
  }

  /** The verified entry, or CATALOG_UNKNOWN / CATALOG_SIGNATURE / CATALOG_INVALID. */
  get(name: string): CatalogEntry {
    if (!this.names().includes(name)) {
      throw new OacpError<CatalogErrorCode>(
        'CATALOG_UNKNOWN',
        `no catalogued server "${name}" (oacp mcp search lists them: ${this.names().join(', ')})`,
      );
    }
    const path = join(this.#dir, `${name}.yaml`);
    const bytes = readFileSync(path);
    const signature = CatalogSignatureSchema.safeParse(readJson(`${path}.sig`));
    if (!signature.success) {
      throw new OacpError<CatalogErrorCode>(
        'CATALOG_SIGNATURE',
        `${name}: no valid signature file ${path}.sig`,
      );
    }
    const checked = checkSignature(bytes, signature.data, this.keyDid);
    if (!checked.ok) throw new OacpError<CatalogErrorCode>('CATALOG_SIGNATURE', `${name}: ${checked.reason}`);
    // Only now, with the bytes verified: their digest is the cache key (the signature names the same digest).
    const cached = this.#parsed?.get(signature.data.sha256);
    if (cached !== undefined) {
      const entry = CatalogEntrySchema.safeParse(cached);
      if (entry.success) return entry.data;
    }
    const document: unknown = yaml().parse(bytes.toString('utf8'));
    const entry = CatalogEntrySchema.safeParse(document);
    if (!entry.success) {
      const issue = entry.error.issues[0];
      throw new OacpError<CatalogErrorCode>(
        'CATALOG_INVALID',
        `${name}: ${issue?.path.join('.') || '(top level)'}: ${issue?.message ?? 'invalid'}`,
      );
    }
    this.#parsed?.put(signature.data.sha256, document);
    return entry.data;
  }

  /**
   * The verified entry for an npm package, when the catalog has one. Only the
   * files that name the package are parsed and verified (this runs at every
   * `oacp mcp run npm:…`); one that fails its signature is refused, not skipped.
   */
  forPackage(pkg: string): CatalogEntry | undefined {
    const line = `package: ${JSON.stringify(pkg)}`;
    for (const name of this.names()) {
      let text: string;
      try {
        text = readFileSync(join(this.#dir, `${name}.yaml`), 'utf8');
      } catch {
        continue;
      }
      if (!text.split('\n').some((row) => row === line || row === `package: ${pkg}`)) continue;
      const entry = this.get(name);
      if (entry.package === pkg) return entry;
    }
    return undefined;
  }

  /** Entries whose name, package, description or tools mention `word` (case-insensitive). */
  search(word: string): CatalogEntry[] {
    const needle = word.toLowerCase();
    return this.names()
      .map((name) => this.get(name))
      .filter((entry) =>
        [entry.name, entry.package, entry.description, ...entry.tools.map((tool) => tool.name)].some((text) =>
          text.toLowerCase().includes(needle),
        ),
      );
  }
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}
