import { join } from 'node:path';
import type { UnenforcedName } from '../../capability/manifest.js';
import { OacpError } from '../../core/errors.js';
import { ToolPins } from '../../policy/pins.js';
import { parseMcpRunOptions } from '../options.js';
import { inspectServer } from '../package.js';
import type { TierLookup } from '../tiers.js';
import { upstreamFor } from '../upstream-from-options.js';
import { scriptsFor } from './acquire.js';
import { binCommand } from './bin.js';
import type { PackageErrorCode } from './errors.js';
import type { ScriptRunner } from './install-scripts.js';
import { unscopedName } from './spec.js';
import type { PackageStore, StoredPackage } from './store.js';
import { diffTools, isEmptyDiff, type ListedTool, type ToolDiff } from './tool-diff.js';

export interface UpdatePlan {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly diff: ToolDiff;
  /** Whether the pin moved (no change in tools, or `yes`). */
  readonly switched: boolean;
}

/**
 * `oacp mcp update NAME`: installs the newest version (or `range`), starts
 * the pinned and the new tree locked down, lists both tools, and moves the
 * pin only when the tools are unchanged or the user said yes after seeing
 * the difference. Switching also re-pins the tool definitions, so the bridge
 * does not block the tools the user just accepted. A package added with
 * `--allow-scripts` gets the new version's install scripts run by `scripts` (the
 * sandbox; its refusals before anything is fetched); one added without never does.
 */
export async function updatePackage(
  store: PackageStore,
  name: string,
  options: {
    readonly home: string;
    readonly range?: string;
    readonly yes: boolean;
    readonly tier?: string;
    readonly tiers?: TierLookup;
    /** Runs the install scripts, when the pin says the package was added with them. */
    readonly scripts?: ScriptRunner;
    /** Limits accepted as unenforced for the servers started to list their tools (as the scripts' runner got them). */
    readonly allowUnenforced?: readonly UnenforcedName[];
    readonly log: (line: string) => void;
  },
): Promise<UpdatePlan> {
  const current = await store.pinned(name);
  if (current === undefined) {
    throw new OacpError<PackageErrorCode>(
      'PACKAGE_NOT_ADDED',
      `${name} is not added in this home: oacp mcp add npm:${name}`,
    );
  }
  const withScripts = store.pins.get(name)?.scripts === true;
  const scripts = scriptsFor(name, withScripts, options.scripts);
  await scripts?.ready(store.root);
  const resolved = await store.resolve({
    name,
    ...(options.range === undefined ? {} : { range: options.range }),
  });
  if (resolved.version === current.version) {
    return { name, from: current.version, to: current.version, diff: diffTools([], []), switched: false };
  }
  options.log(
    `oacp: installing ${name}@${resolved.version} to compare with ${current.version} (scripts ${scripts ? 'on, in the hardened sandbox without network, as added' : 'off'})`,
  );
  const next = await store.install(resolved, scripts === undefined ? {} : { scripts });
  const [before, after] = [await listTools(current, options), await listTools(next, options)];
  const diff = diffTools(before, after);
  const switched = isEmptyDiff(diff) || options.yes;
  if (switched) {
    store.pins.set(name, {
      version: next.version,
      integrity: next.integrity,
      digest: next.digest,
      scripts: withScripts,
    });
    const server = unscopedName(name);
    const pins = new ToolPins({ path: join(options.home, 'mcp', 'pins', `${server}.json`) });
    for (const tool of after) {
      // observe() records the new definition; repin() accepts it after this review.
      pins.observe(server, { ...tool.definition, name: tool.name });
      pins.repin(server, tool.name);
    }
  }
  return { name, from: current.version, to: next.version, diff, switched };
}

async function listTools(
  stored: StoredPackage,
  options: {
    readonly home: string;
    readonly tier?: string;
    readonly tiers?: TierLookup;
    readonly allowUnenforced?: readonly UnenforcedName[];
    readonly log: (line: string) => void;
  },
): Promise<(ListedTool & { definition: Record<string, unknown> })[]> {
  const { command, script } = binCommand(stored);
  const runOptions = parseMcpRunOptions({
    command: command === script ? [command] : [command, script],
    tier: options.tier ?? 'hardened',
    name: unscopedName(stored.name),
    allowUnenforced: [...(options.allowUnenforced ?? [])],
  });
  const connector = await upstreamFor(
    runOptions,
    { home: options.home, env: {}, ...(options.tiers === undefined ? {} : { tiers: options.tiers }) },
    () => undefined,
  );
  const inventory = await inspectServer(connector);
  return inventory.tools.map((tool) => ({
    name: tool.name,
    digest: tool.digest,
    definition: tool.definition,
  }));
}
