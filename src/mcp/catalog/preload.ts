import { OacpError } from '../../core/errors.js';
import type { Catalog } from './catalog.js';
import type { CatalogEntry } from './entry.js';
import type { CatalogErrorCode } from './errors.js';

/** The installed package a server runs from (the store's tree: name and version). */
interface RunningPackage {
  readonly name: string;
  readonly version: string;
}

/**
 * The catalog entry whose pinned tool definitions apply to this run: the one
 * named by `--catalog NAME` (which must be the package and version it
 * reviewed), else the entry for the package when it is the reviewed version.
 * Another version's pins would block tools that legitimately changed, so
 * they are not applied; undefined then, and for packages not catalogued.
 */
export function catalogEntryFor(
  catalog: Catalog,
  running: RunningPackage | undefined,
  named: string | undefined,
): CatalogEntry | undefined {
  if (named !== undefined) {
    const entry = catalog.get(named);
    if (running?.name !== entry.package || running.version !== entry.version) {
      const runs =
        running === undefined ? 'a command that is not an npm package' : `${running.name}@${running.version}`;
      throw new OacpError<CatalogErrorCode>(
        'CATALOG_MISMATCH',
        `--catalog ${named}: the catalog reviewed ${entry.package}@${entry.version}, this runs ${runs}; run npm:${entry.package}@${entry.version} (or leave out the command), or drop --catalog`,
      );
    }
    return entry;
  }
  if (running === undefined) return undefined;
  const entry = catalog.forPackage(running.name);
  return entry?.version === running.version ? entry : undefined;
}
