import { OacpError } from '../../core/errors.js';
import type { PackageErrorCode } from './errors.js';
import type { ScriptRunner } from './install-scripts.js';
import type { PackageSpec } from './spec.js';
import { type PackageStore, type StoredPackage, usesPin } from './store.js';

/**
 * The stored tree for `spec`: the pinned one when the spec names no version
 * (or names exactly the pinned one), so a pinned server starts without the
 * network; else resolved from the registry and installed. The first install
 * of a package pins it; a different version asked for explicitly runs
 * without moving the pin (that is `oacp mcp update`). `beforeInstall` is
 * awaited before the registry is asked or anything is installed (a caller's
 * refusals that come first); the pinned tree is looked up and verified
 * without waiting for it. The install scripts run when `allowScripts` (add's
 * `--allow-scripts`) or the pin says the package was added with them, by
 * `scripts` (the sandbox), whose refusals come before anything is fetched.
 */
export async function acquirePackage(
  store: PackageStore,
  spec: PackageSpec,
  log: (line: string) => void,
  options: { scripts?: ScriptRunner; allowScripts?: boolean; beforeInstall?: () => Promise<void> } = {},
): Promise<StoredPackage> {
  const pin = store.pins.get(spec.name);
  if (usesPin(pin, spec)) {
    const stored = await store.pinned(spec.name);
    if (stored !== undefined) return stored;
  }
  await options.beforeInstall?.();
  const scripts = scriptsFor(
    spec.name,
    options.allowScripts === true || pin?.scripts === true,
    options.scripts,
  );
  await scripts?.ready(store.root);
  const resolved = await store.resolve(spec);
  if (pin !== undefined && resolved.version === pin.version) {
    const stored = await store.pinned(spec.name);
    if (stored !== undefined) return stored;
  }
  log(
    `oacp: installing ${resolved.name}@${resolved.version} into the store (npm, scripts ${scripts ? 'on, in the hardened sandbox without network' : 'off'})`,
  );
  const stored = await store.install(resolved, scripts === undefined ? {} : { scripts });
  log(`oacp: ${stored.name}@${stored.version} stored as sha256 ${stored.digest}`);
  if (pin === undefined) {
    store.pins.set(stored.name, {
      version: stored.version,
      integrity: stored.integrity,
      digest: stored.digest,
      scripts: scripts !== undefined,
    });
  }
  return stored;
}

/** The runner when the scripts are to run (`wanted`); a caller that wants them without a sandbox to run them in is a bug. */
export function scriptsFor(
  name: string,
  wanted: boolean,
  runner: ScriptRunner | undefined,
): ScriptRunner | undefined {
  if (!wanted) return undefined;
  if (runner === undefined) {
    throw new OacpError<PackageErrorCode>(
      'PACKAGE_SCRIPTS',
      `${name} was added with --allow-scripts, but no sandbox was given to run its install scripts`,
    );
  }
  return runner;
}
