import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LightTier } from '../../../src/airlock/native/light.js';
import { parseMcpRunOptions } from '../../../src/mcp/options.js';
import { hostNpm } from '../../../src/mcp/packages/npm-cli.js';
import { PackagePins } from '../../../src/mcp/packages/pins.js';
import { parsePackageSpec } from '../../../src/mcp/packages/spec.js';
import { PackageStore } from '../../../src/mcp/packages/store.js';
import { treeDigest } from '../../../src/mcp/packages/tree-digest.js';
import { TreeStamps, treeStamp } from '../../../src/mcp/packages/tree-stamp.js';
import type { TierLookup } from '../../../src/mcp/tiers.js';
import { upstreamFor } from '../../../src/mcp/upstream-from-options.js';

/**
 * Issue 9: `oacp mcp run npm:<package>` starts the stamp of the pinned tree (GNU find, a child
 * process) while its own modules load, and the tree check takes it instead of stamping after.
 * The check itself does not move: it compares that stamp with the recorded one before the server
 * starts, a changed tree is refused, and a stamp is used by one check only.
 */
const scratch = mkdtempSync(join(tmpdir(), 'oacp-early-stamp-'));
const previousStore = process.env.OACP_PACKAGE_STORE;
process.env.OACP_PACKAGE_STORE = join(scratch, 'store');
afterAll(() => {
  if (previousStore === undefined) delete process.env.OACP_PACKAGE_STORE;
  else process.env.OACP_PACKAGE_STORE = previousStore;
  rmSync(scratch, { recursive: true, force: true });
});

const NAME = 'oacp-early-stamp-server';
const SCRIPT = 'process.stdin.resume();\n';

/** A home whose pins name a tree put into the store by hand (what `oacp mcp add` leaves). */
function homeWithStoredTree(label: string): { home: string; tree: string; script: string } {
  const home = join(scratch, `home-${label}`);
  const staging = join(scratch, `staging-${label}`);
  const pkg = join(staging, 'node_modules', NAME);
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(staging, 'package.json'), `{"name":"oacp-store-entry","private":true,"v":"${label}"}\n`);
  writeFileSync(join(pkg, 'package.json'), `{"name":"${NAME}","version":"1.0.0","bin":"index.js"}\n`);
  writeFileSync(join(pkg, 'index.js'), SCRIPT);
  const digest = treeDigest(staging);
  const tree = join(scratch, 'store', 'trees', digest);
  mkdirSync(join(scratch, 'store', 'trees'), { recursive: true });
  renameSync(staging, tree);
  new PackagePins(join(home, 'mcp', 'packages', 'pins.json')).set(NAME, {
    scripts: false,
    version: '1.0.0',
    integrity: 'sha512-fixture',
    digest,
  });
  return { home, tree, script: join(tree, 'node_modules', NAME, 'index.js') };
}

/** Real stamps (GNU find), counted by the tree they were taken of. */
function countedStamps(): { stamps: TreeStamps; taken: string[] } {
  const taken: string[] = [];
  return {
    taken,
    stamps: new TreeStamps((root) => {
      taken.push(root);
      return treeStamp(root);
    }),
  };
}

const lightTier: TierLookup = {
  names: ['light'],
  availabilities: async () => [],
  selectTier: async () => new LightTier(),
};

const options = () => parseMcpRunOptions({ command: [`npm:${NAME}`], tier: 'light' });

describe('the pinned tree stamped while oacp mcp run loads', () => {
  it('starts the stamp of the tree the pinned spec runs, and of no other', () => {
    const { home, tree } = homeWithStoredTree('which');
    const store = new PackageStore(home, hostNpm());
    for (const spec of [NAME, `${NAME}@latest`, `${NAME}@1.0.0`]) {
      const { stamps, taken } = countedStamps();
      store.startStamp(parsePackageSpec(spec), stamps);
      expect(taken, spec).toEqual([tree]);
    }
    // Another version is resolved and installed, not the pinned tree; an unpinned name has no tree yet.
    for (const spec of [`${NAME}@2.0.0`, `${NAME}@^1`, 'oacp-not-pinned']) {
      const { stamps, taken } = countedStamps();
      store.startStamp(parsePackageSpec(spec), stamps);
      expect(taken, spec).toEqual([]);
    }
    // A pinned tree gone from the store: nothing to stamp (the check then says how to reinstall).
    const gone = homeWithStoredTree('gone');
    rmSync(gone.tree, { recursive: true, force: true });
    const { stamps, taken } = countedStamps();
    new PackageStore(gone.home, hostNpm()).startStamp(parsePackageSpec(NAME), stamps);
    expect(taken).toEqual([]);
  });

  it('the check uses the stamp started earlier, once; the next check stamps afresh', async () => {
    const { home, tree } = homeWithStoredTree('once');
    const { stamps, taken } = countedStamps();
    new PackageStore(home, hostNpm()).startStamp(parsePackageSpec(NAME), stamps);
    expect(taken).toEqual([tree]);
    const first = await upstreamFor(options(), { home, env: {}, tiers: lightTier, stamps }, () => undefined);
    expect(first.identity.tree?.path).toBe(tree);
    // The started stamp served that check: none was taken for it.
    expect(taken).toEqual([tree]);
    await upstreamFor(options(), { home, env: {}, tiers: lightTier, stamps }, () => undefined);
    expect(taken).toEqual([tree, tree]);
  });

  it('refuses a tree changed before its stamp was started, and a tree changed after a started stamp was used', async () => {
    const { home, script } = homeWithStoredTree('changed');
    // A first start records the tree's stamp.
    await upstreamFor(options(), { home, env: {}, tiers: lightTier }, () => undefined);
    const size = statSync(script).size;
    writeFileSync(script, 'process.exit(7);'.padEnd(size, ' ').slice(0, size));
    const early = countedStamps();
    new PackageStore(home, hostNpm()).startStamp(parsePackageSpec(NAME), early.stamps);
    await expect(
      upstreamFor(options(), { home, env: {}, tiers: lightTier, stamps: early.stamps }, () => undefined),
    ).rejects.toThrow(new RegExp(`the stored tree of ${NAME}@1\\.0\\.0 was modified on disk`));

    const later = homeWithStoredTree('changed-later');
    const { stamps } = countedStamps();
    new PackageStore(later.home, hostNpm()).startStamp(parsePackageSpec(NAME), stamps);
    await upstreamFor(options(), { home: later.home, env: {}, tiers: lightTier, stamps }, () => undefined);
    const laterSize = statSync(later.script).size;
    writeFileSync(later.script, 'process.exit(7);'.padEnd(laterSize, ' ').slice(0, laterSize));
    await expect(
      upstreamFor(options(), { home: later.home, env: {}, tiers: lightTier, stamps }, () => undefined),
    ).rejects.toThrow(/was modified on disk/);
  });
});
