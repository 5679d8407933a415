import type { UnenforcedName } from '../../capability/manifest.js';
import { OacpError } from '../../core/errors.js';
import type { FileDigest } from '../server-identity.js';
import type { TierLookup } from '../tiers.js';
import { acquirePackage } from './acquire.js';
import { binCommand } from './bin.js';
import { packageCommand } from './command-form.js';
import type { PackageErrorCode } from './errors.js';
import { sandboxedScripts } from './install-scripts.js';
import { hostNpm, type NpmClient } from './npm-cli.js';
import { PackageStore } from './store.js';
import type { TreeStamps } from './tree-stamp.js';

/** What to start for a wrapped command, and the installed tree when it came from the store. */
export interface Launch {
  readonly command: string;
  readonly args: readonly string[];
  /** The tree's folder and digest, its package name and version: the server's identity in receipts. */
  readonly tree?: FileDigest & { readonly name: string; readonly version: string };
}

/**
 * Maps `npm:<pkg>`, `npx -y <pkg>` and `npm exec <pkg>` onto the package
 * store (installing outside the sandbox when needed) and returns the node
 * script to run inside it; any other command is returned unchanged.
 */
export async function launchFor(
  argv: readonly string[],
  context: {
    readonly home?: string;
    readonly npm?: NpmClient;
    readonly log: (line: string) => void;
    /** Awaited before the package store asks the registry or installs anything (acquirePackage). */
    readonly beforeInstall?: () => Promise<void>;
    /** Tree stamps started earlier (TreeStamps): the store's check uses them. */
    readonly stamps?: TreeStamps;
    /** Limits accepted as unenforced (`--allow-unenforced`), also for install scripts a pin asks for. */
    readonly allowUnenforced?: readonly UnenforcedName[];
    readonly tiers?: TierLookup;
  },
): Promise<Launch> {
  const wanted = packageCommand(argv);
  if (wanted === undefined) {
    const [command = '', ...args] = argv;
    return { command, args };
  }
  if (context.home === undefined) {
    throw new OacpError<PackageErrorCode>(
      'PACKAGE_STORE',
      `${wanted.form} servers need an OACP home for the package store (run oacp init, or pass --home)`,
    );
  }
  const store = new PackageStore(
    context.home,
    context.npm ?? hostNpm(),
    context.stamps === undefined ? {} : { stamps: context.stamps },
  );
  const stored = await acquirePackage(store, wanted.spec, context.log, {
    ...(context.beforeInstall === undefined ? {} : { beforeInstall: context.beforeInstall }),
    // A package pinned with its install scripts on, whose tree is fetched again, runs them again.
    scripts: sandboxedScripts({
      home: context.home,
      allowUnenforced: context.allowUnenforced ?? [],
      log: context.log,
      ...(context.tiers === undefined ? {} : { tiers: context.tiers }),
    }),
  });
  const { command, script } = binCommand(stored, wanted.bin);
  return {
    command,
    args: command === script ? [...wanted.args] : [script, ...wanted.args],
    tree: { path: stored.root, sha256: stored.digest, name: stored.name, version: stored.version },
  };
}
