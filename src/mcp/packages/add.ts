import { acquirePackage } from './acquire.js';
import type { ScriptRunner } from './install-scripts.js';
import type { PackageSpec } from './spec.js';
import type { PackageStore, StoredPackage } from './store.js';

/**
 * `oacp mcp add npm:<pkg>[@version]`: installs and pins the package, so
 * `oacp mcp run npm:<pkg>` starts it from the store with no network. A
 * package already pinned at another version keeps its pin (that move is
 * `oacp mcp update`, which shows the tool changes first).
 */
export async function addPackage(
  store: PackageStore,
  spec: PackageSpec,
  log: (line: string) => void,
  options: { scripts?: ScriptRunner; allowScripts?: boolean } = {},
): Promise<{ stored: StoredPackage; pinned: boolean }> {
  const stored = await acquirePackage(store, spec, log, options);
  return { stored, pinned: store.pins.get(spec.name)?.digest === stored.digest };
}
