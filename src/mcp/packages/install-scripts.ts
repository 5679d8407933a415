import { chmodSync, existsSync, lstatSync, readdirSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { findOnPath } from '../../airlock/native/executable.js';
import { readAccountHomes } from '../../airlock/native/protected-paths.js';
import type { ProcessTier } from '../../airlock/sandbox.js';
import { type Manifest, ManifestSchema, type UnenforcedName } from '../../capability/manifest.js';
import { OacpError } from '../../core/errors.js';
import { escapeControl } from '../../core/terminal-text.js';
import { implicitReadPaths } from '../implicit-paths.js';
import { serverIdentity } from '../server-identity.js';
import { requireTier, type TierLookup } from '../tiers.js';
import type { PackageErrorCode } from './errors.js';
import { lastLines } from './npm-cli.js';

/** Runs the install scripts of a tree npm installed with `--ignore-scripts`, in that tree's folder. */
export interface ScriptRunner {
  /**
   * The refusals that come before anything is fetched: the tier missing, limits this host
   * cannot enforce for a sandbox writing under `store` (the disk it throttles).
   */
  ready(store: string): Promise<void>;
  run(dir: string): Promise<void>;
}

/**
 * CPU and memory for node-gyp builds (a native addon compiles for minutes on one core); the
 * other quotas are the defaults. One run, so the CPU is one budget (as `oacp run` counts it).
 */
const SCRIPT_CPU_MS = 15 * 60_000;
const SCRIPT_MEMORY_MB = 2048;
const SCRIPT_PIDS = 256;
const SCRIPT_TMP_MB = 512;
/** Wall-clock time the scripts may take in all. */
const SCRIPT_WALL_MS = 30 * 60_000;

/**
 * The manifest of the scripts' sandbox: the staging folder read-write and nothing else, no
 * network, no environment but HOME (a /tmp inside the sandbox), so a script can neither read
 * the OACP home nor write outside the tree it builds, nor reach anything.
 */
export function scriptsManifest(dir: string, allowUnenforced: readonly UnenforcedName[]): Manifest {
  return ManifestSchema.parse({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'install-scripts',
    capabilities: { file_read: [`${dir}/**`], file_write: [`${dir}/**`], env: ['HOME'] },
    quotas: {
      cpu_ms_per_request: SCRIPT_CPU_MS,
      cpu_ms_total: SCRIPT_CPU_MS,
      startup_cpu_ms: 0,
      memory_mb: SCRIPT_MEMORY_MB,
      max_pids: SCRIPT_PIDS,
      tmp_mb: SCRIPT_TMP_MB,
      allow_unenforced: [...new Set(allowUnenforced)],
    },
  });
}

/**
 * `npm rebuild --foreground-scripts` in the hardened tier (the tier `oacp mcp run` uses by
 * default): every installed package's preinstall, install and postinstall (or node-gyp's
 * build for a binding.gyp without an install script), in `npm install`'s order, run by npm
 * inside a sandbox. Never on the host: a tier that is unavailable refuses with its remedy.
 */
export function sandboxedScripts(options: {
  /** The OACP home: no grant may overlap it, and it is not readable inside. */
  readonly home: string;
  readonly allowUnenforced: readonly UnenforcedName[];
  readonly log: (line: string) => void;
  readonly tiers?: TierLookup;
  /** Wall-clock time before the sandbox is stopped (default 30 minutes). */
  readonly wallMs?: number;
  /** The npm on the host (default: `npm` on PATH), run by the node that runs OACP. */
  readonly npm?: string;
}): ScriptRunner {
  let tier: Promise<ProcessTier> | undefined;
  const hardened = () => {
    tier ??= requireTier('hardened', options.tiers);
    return tier;
  };
  return {
    async ready(store) {
      const chosen = await hardened();
      // The staging folder does not exist yet: its nearest existing parent is on the same disk.
      let near = resolve(store);
      while (!existsSync(near) && dirname(near) !== near) near = dirname(near);
      await chosen.checkLimits?.(scriptsManifest(near, options.allowUnenforced));
    },
    async run(dir) {
      const chosen = await hardened();
      const npmCli = npmScript(options.npm ?? 'npm');
      const command = process.execPath;
      const args = [
        npmCli,
        'rebuild',
        '--foreground-scripts',
        '--userconfig=/dev/null',
        '--cache=/tmp/npm-cache',
        '--no-update-notifier',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        // node-gyp builds against the headers installed with this node, not ones it would download.
        ...(nodeHeaders() === undefined ? [] : [`--nodedir=${nodeHeaders()}`]),
      ];
      const identity = serverIdentity('install-scripts', command, args);
      const implicit = implicitReadPaths(identity, [options.home], readAccountHomes());
      const sandbox = await chosen.start({
        command,
        args,
        manifest: scriptsManifest(dir, options.allowUnenforced),
        implicitReadPaths: implicit,
        protectedPaths: [options.home],
        cwd: dir,
        env: { HOME: '/tmp' },
      });
      sandbox.stdin.end();
      const tail: string[] = [];
      const lines = (stream: Readable) =>
        new Promise<void>((resolve) => {
          const reader = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
          reader.on('line', (line) => {
            tail.push(line);
            if (tail.length > 20) tail.shift();
            options.log(`[install scripts] ${escapeControl(line)}`);
          });
          reader.on('close', resolve);
        });
      // CPU quotas do not end a script that sleeps or waits for a network that is not there.
      const wallMs = options.wallMs ?? SCRIPT_WALL_MS;
      let overdue = false;
      const timer = setTimeout(() => {
        overdue = true;
        void sandbox.stop();
      }, wallMs);
      const [exit] = await Promise.all([sandbox.exit, lines(sandbox.stdout), lines(sandbox.stderr)]).finally(
        () => clearTimeout(timer),
      );
      await sandbox.stop();
      if (overdue) {
        throw new OacpError<PackageErrorCode>(
          'PACKAGE_SCRIPTS',
          `the install scripts did not finish within ${Math.round(wallMs / 1000)} s in the hardened sandbox (no network) and were stopped`,
        );
      }
      if (exit.code === 0 && exit.killedBy === undefined) {
        try {
          closeModes(dir);
        } catch (error) {
          // A script can nest folders past PATH_MAX (mkdir and chdir, one level at a time).
          if ((error as NodeJS.ErrnoException).code !== 'ENAMETOOLONG') throw error;
          throw new OacpError<PackageErrorCode>(
            'PACKAGE_SCRIPTS',
            'the install scripts left a path longer than the system allows (folders nested past PATH_MAX); nothing was stored',
          );
        }
        return;
      }
      const why =
        exit.killedBy !== undefined
          ? `stopped by ${exit.killedBy}${exit.detail === undefined ? '' : ` (${exit.detail})`}`
          : `exit ${exit.code ?? exit.signal ?? '?'}: ${lastLines(tail.join('\n'), 3)}`;
      throw new OacpError<PackageErrorCode>(
        'PACKAGE_SCRIPTS',
        `the install scripts failed in the hardened sandbox (no network, only the package's own folder writable), ${why}`,
      );
    },
  };
}

/**
 * Takes group and other write, set-user-ID, set-group-ID and sticky bits off everything the
 * scripts left: a stored tree is guarded by the store's permissions (a file others could write
 * could be changed between its check and its server's start), and when OACP is root the
 * scripts' files are root's on the host.
 */
function closeModes(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isSymbolicLink()) continue;
    const path = join(dir, entry.name);
    const mode = lstatSync(path).mode & 0o7777;
    if ((mode & 0o7022) !== 0) chmodSync(path, mode & ~0o7022);
    if (entry.isDirectory()) closeModes(path);
  }
}

/** The prefix holding this node's headers (`include/node/common.gypi`), as node-gyp's `--nodedir` wants it. */
function nodeHeaders(): string | undefined {
  const prefix = dirname(dirname(realpathSync.native(process.execPath)));
  return existsSync(join(prefix, 'include', 'node', 'common.gypi')) ? prefix : undefined;
}

/**
 * npm's own script (`.../npm/bin/npm-cli.js`) behind the invoker's `npm` command, to run under
 * OACP's node: found on the invoker's PATH (the npm they use), then named by its absolute path,
 * so the identity digests the file that runs.
 */
function npmScript(command: string): string {
  const found = command.includes('/')
    ? existsSync(resolve(command))
      ? resolve(command)
      : undefined
    : findOnPath(command, process.env.PATH ?? '');
  if (found === undefined) {
    throw new OacpError<PackageErrorCode>(
      'PACKAGE_INSTALL',
      `"${command}" is not on PATH (install Node.js's npm)`,
    );
  }
  return realpathSync.native(found);
}
