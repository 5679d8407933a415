// The catalog of reviewed MCP servers shipped with OACP (catalog/*.yaml, signed by the catalog key).
export { Catalog, shippedCatalogDir } from './catalog.js';
export { type CatalogEntry, CatalogEntrySchema, runFlags } from './entry.js';
export type { CatalogErrorCode } from './errors.js';
export { ParsedCatalogEntries } from './parsed-entries.js';
export { type CatalogSignature, checkSignature } from './signature.js';
