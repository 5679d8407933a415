import type { McpRunOptionsInput } from '../options.js';
import type { Catalog } from './catalog.js';
import { entryGrants } from './entry.js';

/**
 * `oacp mcp run --catalog NAME` without a command runs the catalogued server
 * as it was reviewed: `npm:<package>@<version> <args>` with the grants of its
 * signed manifest (what `oacp mcp show NAME` prints) added to the flags given.
 * With a command, the command stays and only the pins apply (catalogEntryFor
 * checks it is the reviewed package and version).
 */
export function withCatalogEntry(input: McpRunOptionsInput, catalog: Catalog): McpRunOptionsInput {
  if (input.catalog === undefined || (input.command ?? []).length > 0) return input;
  const entry = catalog.get(input.catalog);
  const grants = entryGrants(entry);
  return {
    ...input,
    command: [`npm:${entry.package}@${entry.version}`, ...entry.args],
    allowFiles: [...(input.allowFiles ?? []), ...grants.allowFiles],
    allowNetwork: [...(input.allowNetwork ?? []), ...grants.allowNetwork],
    allowEnv: [...(input.allowEnv ?? []), ...grants.allowEnv],
    allowUnixSockets: input.allowUnixSockets === true || grants.allowUnixSockets,
    // Either side opting out leaves the preload out, as intersecting two manifests does.
    nodePreload: input.nodePreload !== false && grants.nodePreload,
    ...((input.tools ?? []).length > 0 ? {} : { tools: grants.tools }),
  };
}
