/** Why the shipped catalog, or one entry of it, cannot be used. */
export type CatalogErrorCode =
  | 'CATALOG_READ'
  | 'CATALOG_INVALID'
  | 'CATALOG_SIGNATURE'
  | 'CATALOG_UNKNOWN'
  | 'CATALOG_MISMATCH';
