import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LightTier } from '../../../src/airlock/native/light.js';
import type { ProcessTier } from '../../../src/airlock/sandbox.js';
import { TierUnavailableError } from '../../../src/airlock/tiers.js';
import { parseMcpRunOptions } from '../../../src/mcp/options.js';
import { acquirePackage } from '../../../src/mcp/packages/acquire.js';
import type { NpmClient } from '../../../src/mcp/packages/npm-cli.js';
import { PackagePins } from '../../../src/mcp/packages/pins.js';
import { PackageStore } from '../../../src/mcp/packages/store.js';
import { treeDigest } from '../../../src/mcp/packages/tree-digest.js';
import type { TierLookup } from '../../../src/mcp/tiers.js';
import { upstreamFor } from '../../../src/mcp/upstream-from-options.js';

/**
 * Issue 9: `oacp mcp run npm:<package>` checks a tree already in the store (GNU find over its
 * metadata) beside the tier's availability probe instead of after it. Neither check moves: the
 * tier's refusal still comes first, a changed tree is still refused, and nothing is installed
 * before the tier and its limits are known to be usable.
 */
const scratch = mkdtempSync(join(tmpdir(), 'oacp-verify-beside-probe-'));
const previousStore = process.env.OACP_PACKAGE_STORE;
process.env.OACP_PACKAGE_STORE = join(scratch, 'store');
afterAll(() => {
  if (previousStore === undefined) delete process.env.OACP_PACKAGE_STORE;
  else process.env.OACP_PACKAGE_STORE = previousStore;
  rmSync(scratch, { recursive: true, force: true });
});

const NAME = 'oacp-fixture-server';
const SCRIPT = 'process.stdin.resume();\n';

/** A home whose pins name a tree put into the store by hand (what `oacp mcp add` leaves). */
function homeWithStoredTree(label: string): { home: string; script: string; verified: string } {
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
  return {
    home,
    script: join(tree, 'node_modules', NAME, 'index.js'),
    verified: join(home, 'mcp', 'packages', 'verified.json'),
  };
}

/** A tier registry whose answer the test gives: the tier's probe, held as long as the test likes. */
function heldTier(): { lookup: TierLookup; release(answer: ProcessTier | Error): void; asked(): boolean } {
  let answer: ((value: ProcessTier | Error) => void) | undefined;
  const pending = new Promise<ProcessTier | Error>((resolve) => {
    answer = resolve;
  });
  let asked = false;
  return {
    lookup: {
      names: ['light'],
      availabilities: async () => [],
      selectTier: async () => {
        asked = true;
        const given = await pending;
        if (given instanceof Error) throw given;
        return given;
      },
    },
    release: (value) => answer?.(value),
    asked: () => asked,
  };
}

const options = () => parseMcpRunOptions({ command: [`npm:${NAME}`], tier: 'light' });

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('a stored package tree is checked beside the tier probe, and still refused when changed', () => {
  it('verifies the stored tree while the tier probe is still out, then uses it', async () => {
    const { home, script, verified } = homeWithStoredTree('beside');
    const tier = heldTier();
    const upstream = upstreamFor(options(), { home, env: {}, tiers: tier.lookup }, () => undefined);
    upstream.catch(() => undefined);
    // The full digest of a tree seen for the first time records its stamp: done before the tier answered.
    await until(() => existsSync(verified), 'the tree check');
    expect(tier.asked()).toBe(true);
    tier.release(new LightTier());
    const connector = await upstream;
    expect(connector.identity.tree?.path).toBe(join(scratch, 'store', 'trees', treeDigestOf(script)));
    expect(connector.identity.script?.path).toBe(script);
  });

  it('refuses a tree whose installed file was changed in place (same size), naming the package', async () => {
    const { home, script, verified } = homeWithStoredTree('tampered');
    // A first start records the tree's stamp; then a file is rewritten, as an attacker with write access would.
    const first = heldTier();
    first.release(new LightTier());
    await upstreamFor(options(), { home, env: {}, tiers: first.lookup }, () => undefined);
    expect(existsSync(verified)).toBe(true);
    const before = statSync(script).size;
    writeFileSync(script, 'process.exit(7);'.padEnd(before, ' ').slice(0, before));
    const second = heldTier();
    second.release(new LightTier());
    await expect(
      upstreamFor(options(), { home, env: {}, tiers: second.lookup }, () => undefined),
    ).rejects.toThrow(
      new RegExp(`PACKAGE_INTEGRITY|the stored tree of ${NAME}@1\\.0\\.0 was modified on disk`),
    );
  });

  it("the tier's refusal still comes first, even for a changed tree and however late the probe answers", async () => {
    const { home, script } = homeWithStoredTree('order');
    writeFileSync(script, `${SCRIPT}// changed\n`);
    const tier = heldTier();
    const upstream = upstreamFor(options(), { home, env: {}, tiers: tier.lookup }, () => undefined);
    upstream.catch(() => undefined);
    // The tree check has long failed by the time the probe answers; the tier's refusal is what is reported.
    await new Promise((resolve) => setTimeout(resolve, 300));
    tier.release(new TierUnavailableError('light', 'held by the test', 'release it'));
    await expect(upstream).rejects.toThrow(/held by the test/);
  });

  it('acquirePackage: the registry is not asked and nothing installed until beforeInstall resolves; a pinned tree never waits for it', async () => {
    const asked: string[] = [];
    const npm: NpmClient = {
      view: async (spec) => {
        asked.push(`view ${spec.name}`);
        throw new Error('the registry was asked');
      },
      install: async () => {
        asked.push('install');
      },
    };
    const { home } = homeWithStoredTree('acquire');
    const store = new PackageStore(home, npm);
    const refused = new Error('the tier refused');
    await expect(
      acquirePackage(store, { name: 'oacp-fixture-not-stored' }, () => undefined, {
        beforeInstall: () => Promise.reject(refused),
      }),
    ).rejects.toBe(refused);
    expect(asked).toEqual([]);
    // The pinned tree is verified and returned while beforeInstall has not answered (and never will).
    const stored = await acquirePackage(store, { name: NAME }, () => undefined, {
      beforeInstall: () => new Promise<void>(() => undefined),
    });
    expect(stored.version).toBe('1.0.0');
    expect(asked).toEqual([]);
  });
});

function treeDigestOf(script: string): string {
  const match = /trees\/([0-9a-f]{64})\//.exec(script);
  if (match?.[1] === undefined) throw new Error(`no tree digest in ${script}`);
  return match[1];
}
