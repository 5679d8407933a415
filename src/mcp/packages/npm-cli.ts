import { execFile } from 'node:child_process';
import { OacpError } from '../../core/errors.js';
import type { PackageErrorCode } from './errors.js';
import { type PackageSpec, printable, specText } from './spec.js';

/** What the registry says a spec resolves to: one exact version and the tarball's integrity. */
export interface ResolvedPackage {
  readonly name: string;
  readonly version: string;
  /** Subresource-integrity string of the package tarball (`sha512-…`) as the registry publishes it. */
  readonly integrity: string;
}

/** The npm client on the host: it alone talks to the registry and installs (OACP never fetches tarballs itself). */
export interface NpmClient {
  view(spec: PackageSpec): Promise<ResolvedPackage>;
  /** `npm install --ignore-scripts` in `dir` (which holds a package.json): no script runs on the host. */
  install(dir: string): Promise<void>;
}

export function hostNpm(command = 'npm'): NpmClient {
  return {
    async view(spec) {
      const wanted = spec.range === undefined ? `${spec.name}@latest` : specText(spec);
      const out = await run(command, ['view', wanted, 'name', 'version', 'dist.integrity', '--json'], {
        code: 'PACKAGE_RESOLVE',
        what: `cannot resolve ${printable(wanted)} from the npm registry`,
        timeoutMs: 60_000,
      });
      let parsed: unknown;
      try {
        parsed = out.trim() === '' ? undefined : JSON.parse(out);
      } catch {
        parsed = undefined;
      }
      // A range matching several versions answers a list, oldest first.
      const last = Array.isArray(parsed) ? parsed[parsed.length - 1] : parsed;
      const record = (last ?? {}) as Record<string, unknown>;
      const version = record.version;
      const integrity = record['dist.integrity'];
      if (typeof version !== 'string' || typeof integrity !== 'string') {
        throw new OacpError<PackageErrorCode>(
          'PACKAGE_RESOLVE',
          `no published version of ${printable(wanted)} (the registry returned no version with an integrity digest)`,
        );
      }
      return { name: spec.name, version, integrity };
    },
    async install(dir) {
      await run(
        command,
        [
          'install',
          // Always: install scripts run only in a sandbox (ScriptRunner), never here on the host.
          '--ignore-scripts',
          '--omit=dev',
          '--no-audit',
          '--no-fund',
          '--package-lock=true',
          // The lock is part of the tree: without registry URLs in it, the same install digests the
          // same whatever the user's npm config says (the catalog's tree digests were taken so).
          '--omit-lockfile-registry-resolved',
          '--loglevel=error',
        ],
        { code: 'PACKAGE_INSTALL', what: 'npm install failed', timeoutMs: 600_000, cwd: dir },
      );
    },
  };
}

function run(
  command: string,
  args: string[],
  how: { code: PackageErrorCode; what: string; timeoutMs: number; cwd?: string },
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        timeout: how.timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        ...(how.cwd === undefined ? {} : { cwd: how.cwd }),
      },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve(stdout);
          return;
        }
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        const why = missing
          ? `"${command}" is not on PATH (install Node.js's npm)`
          : lastLines(String(stderr) || error.message, 3);
        reject(new OacpError<PackageErrorCode>(how.code, `${how.what}: ${why}`));
      },
    );
  });
}

/** The last lines a tool printed, escaped onto one line. */
export function lastLines(text: string, count: number): string {
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  return lines
    .slice(-count)
    .map((line) => printable(line))
    .join(' | ');
}
