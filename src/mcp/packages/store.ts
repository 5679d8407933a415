import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { OacpError } from '../../core/errors.js';
import type { PackageErrorCode } from './errors.js';
import type { ScriptRunner } from './install-scripts.js';
import type { NpmClient, ResolvedPackage } from './npm-cli.js';
import { type PackagePin, PackagePins } from './pins.js';
import { type PackageSpec, printable } from './spec.js';
import { treeDigest } from './tree-digest.js';
import type { TreeStamps } from './tree-stamp.js';
import { VerifiedTrees } from './verified-trees.js';

/** One installed package tree in the store. */
export interface StoredPackage {
  readonly name: string;
  readonly version: string;
  readonly integrity: string;
  /** sha256 of the tree (see treeDigest): also its folder name. */
  readonly digest: string;
  /** The tree's folder: package.json, package-lock.json, node_modules/. */
  readonly root: string;
}

/**
 * The content-addressed package store under `<home>/mcp/packages`: each
 * install is done by npm (scripts off) in a staging folder outside any
 * sandbox, checked against the registry's integrity, its install scripts (when
 * asked for) run in a sandbox, then digested and moved
 * to `trees/<digest>`. A tree is re-digested before each use, so a tree
 * changed on disk is refused rather than run under its old name.
 */
export class PackageStore {
  /** Where trees live (see treesRoot). */
  readonly root: string;
  readonly pins: PackagePins;
  readonly #npm: NpmClient;
  readonly #verified: VerifiedTrees;
  readonly #stamps: TreeStamps | undefined;

  /** `stamps`: tree stamps started before this store's checks (see startStamp). */
  constructor(home: string, npm: NpmClient, options: { trees?: string; stamps?: TreeStamps } = {}) {
    this.root = options.trees ?? treesRoot(home);
    this.pins = new PackagePins(join(home, 'mcp', 'packages', 'pins.json'));
    this.#verified = new VerifiedTrees(join(home, 'mcp', 'packages', 'verified.json'));
    this.#npm = npm;
    this.#stamps = options.stamps;
  }

  /**
   * Starts, in `stamps`, the stamp of the pinned tree that acquirePackage will check first for `spec`
   * (nothing when it would not use the pinned tree). A store given the same `stamps` uses it in pinned().
   */
  startStamp(spec: PackageSpec, stamps: TreeStamps): void {
    const pin = this.pins.get(spec.name);
    if (!usesPin(pin, spec)) return;
    const root = this.treePath(pin.digest);
    if (existsSync(root)) stamps.start(root);
  }

  resolve(...args: Parameters<NpmClient['view']>): Promise<ResolvedPackage> {
    return this.#npm.view(...args);
  }

  /**
   * Installs exactly `resolved` (or finds it already stored) and returns the verified tree. npm
   * fetches and checks with scripts off; `scripts` then runs them on the checked tree (in a
   * sandbox), and the digest is taken after, so it covers what they wrote.
   */
  async install(resolved: ResolvedPackage, options: { scripts?: ScriptRunner } = {}): Promise<StoredPackage> {
    const staging = join(this.root, '.staging', `${Date.now()}-${randomBytes(6).toString('hex')}`);
    mkdirSync(staging, { recursive: true });
    try {
      writeFileSync(
        join(staging, 'package.json'),
        `${JSON.stringify({ name: 'oacp-store-entry', private: true, dependencies: { [resolved.name]: resolved.version } }, null, 2)}\n`,
      );
      await this.#npm.install(staging);
      checkLock(staging, resolved);
      await options.scripts?.run(staging);
      const digest = treeDigest(staging);
      const target = this.treePath(digest);
      if (!existsSync(target)) {
        mkdirSync(join(this.root, 'trees'), { recursive: true, mode: 0o755 });
        renameSync(staging, target);
        // The sandbox may run the server as another user: the tree is world-readable, never writable.
        chmodSync(target, 0o755);
      }
      return { ...resolved, digest, root: target };
    } finally {
      removeStaging(staging);
    }
  }

  treePath(digest: string): string {
    return join(this.root, 'trees', digest);
  }

  /**
   * The pinned tree of `name`, re-digested (in full when its metadata stamp
   * moved since the last full digest); a tree that no longer matches its name is refused.
   */
  async pinned(name: string): Promise<StoredPackage | undefined> {
    const pin = this.pins.get(name);
    if (pin === undefined) return undefined;
    const root = this.treePath(pin.digest);
    if (!existsSync(root)) return undefined;
    const actual = await this.#verified.digest(root, pin.digest, this.#stamps);
    if (actual !== pin.digest) {
      throw new OacpError<PackageErrorCode>(
        'PACKAGE_INTEGRITY',
        `the stored tree of ${name}@${pin.version} was modified on disk (expected sha256 ${pin.digest}, found ${actual}); ` +
          `remove ${root} and run: oacp mcp add npm:${name}@${pin.version}`,
      );
    }
    return { name, version: pin.version, integrity: pin.integrity, digest: pin.digest, root };
  }
}

/** Whether `spec` asks for the pinned version: no version, `latest`, or exactly the pinned one. */
export function usesPin(pin: PackagePin | undefined, spec: PackageSpec): pin is PackagePin {
  return (
    pin !== undefined && (spec.range === undefined || spec.range === 'latest' || spec.range === pin.version)
  );
}

/**
 * Where the trees live: outside the OACP home, because no sandbox may read
 * anything in the home (keys, the master key), and a tree there would be
 * invisible to the server it holds (the sandbox's implicit read paths leave
 * the home out). For a regular user that is the user's cache,
 * `$XDG_CACHE_HOME/oacp/packages` (default `~/.cache/oacp/packages`), or a
 * sibling `<home>-packages` when that would fall inside the home. When OACP
 * runs as root its sandboxes run as an unprivileged user who cannot enter
 * root's home, so the trees go to `/var/lib/oacp/packages` (root-owned,
 * world-readable). Trees are public npm code, named by digest and checked
 * before each use; the pins saying which tree a home runs stay in the home.
 */
export function treesRoot(
  home: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const override = env.OACP_PACKAGE_STORE;
  if (override !== undefined && override !== '') return override;
  if (process.geteuid?.() === 0) return '/var/lib/oacp/packages';
  const cache =
    env.XDG_CACHE_HOME !== undefined && isAbsolute(env.XDG_CACHE_HOME)
      ? env.XDG_CACHE_HOME
      : env.HOME !== undefined && isAbsolute(env.HOME)
        ? join(env.HOME, '.cache')
        : undefined;
  const candidate = cache === undefined ? undefined : join(cache, 'oacp', 'packages');
  const inHome = (path: string) => {
    const from = relative(resolve(home), resolve(path));
    return from === '' || (!from.startsWith('..') && !isAbsolute(from));
  };
  return candidate !== undefined && !inHome(candidate) ? candidate : `${resolve(home)}-packages`;
}

/** npm verified every tarball against the lock; this checks the lock names the version and integrity the registry gave. */
function checkLock(dir: string, resolved: ResolvedPackage): void {
  let lock: { packages?: Record<string, { version?: string; integrity?: string; link?: boolean }> };
  try {
    lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
  } catch {
    throw new OacpError<PackageErrorCode>(
      'PACKAGE_INTEGRITY',
      'npm wrote no package-lock.json for the install',
    );
  }
  const entry = lock.packages?.[`node_modules/${resolved.name}`];
  if (entry?.version !== resolved.version || entry.integrity !== resolved.integrity) {
    throw new OacpError<PackageErrorCode>(
      'PACKAGE_INTEGRITY',
      `npm installed ${printable(resolved.name)}@${printable(entry?.version ?? '?')} with integrity ${printable(entry?.integrity ?? 'none')}, ` +
        `but the registry published ${resolved.version} as ${resolved.integrity}`,
    );
  }
  for (const [path, each] of Object.entries(lock.packages ?? {})) {
    if (path === '' || each.link === true) continue;
    if (typeof each.integrity !== 'string') {
      throw new OacpError<PackageErrorCode>(
        'PACKAGE_INTEGRITY',
        `the lock has no integrity for ${printable(path)}: refusing a dependency that npm could not verify`,
      );
    }
  }
}

/**
 * Removes a staging folder, whatever its scripts left: Node's recursive rm walks full paths
 * by recursion and fails on folders nested past PATH_MAX (its call stack overflows), which
 * left the folder in the store and replaced the install's own error; coreutils' rm walks
 * such a tree relative to each folder.
 */
const RM_PATHS = ['/usr/bin/rm', '/bin/rm'];

function removeStaging(staging: string): void {
  try {
    rmSync(staging, { recursive: true, force: true });
  } catch {
    // A fixed path, as the tree stamp names GNU find: never an `rm` found first on PATH.
    const rm = RM_PATHS.find((path) => existsSync(path));
    if (rm !== undefined) spawnSync(rm, ['-rf', '--', staging], { stdio: 'ignore' });
  }
}
