import { createHash } from 'node:crypto';
import { realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { findExecutable } from '../airlock/native/executable.js';
import { notUtf8PathProblem } from '../capability/path-glob.js';
import { OacpError } from '../core/errors.js';
import { readRegularFile } from '../core/regular-file.js';
import type { McpErrorCode } from './errors.js';
import { directDigester, type FileDigester } from './file-digests.js';

/**
 * Who the upstream server is, for receipts: how it was started and digests of
 * the code that ran, so a verifier can tell "the filesystem server 2026.8.31"
 * from "something calling itself that".
 */
export interface ServerIdentity {
  /** The name tools are attributed to (`context.server` in policies). */
  readonly name: string;
  readonly command?: string;
  readonly args?: readonly string[];
  readonly url?: string;
  /** Absolute path of the executable and the sha256 of its bytes. */
  readonly executable?: FileDigest;
  /** The script the executable runs (first argument that is a file), when there is one. */
  readonly script?: FileDigest;
  /** The package.json nearest the script (or the executable), with its name and version. */
  readonly package?: PackageIdentity;
  /** For a server from the package store: the installed tree's folder and digest (src/mcp/packages). */
  readonly tree?: FileDigest & { readonly name: string; readonly version: string };
}

export interface FileDigest {
  readonly path: string;
  readonly sha256: string;
}

export interface PackageIdentity extends FileDigest {
  readonly name?: string;
  readonly version?: string;
  /**
   * The files the package declares it starts from, absolute and symlink-resolved: each `bin`
   * target and `main` (`index.js` when it names none). Only these run "as the package".
   */
  readonly entries: readonly string[];
}

export function serverIdentity(
  name: string,
  command: string,
  args: readonly string[],
  digester: FileDigester = directDigester,
): ServerIdentity {
  const digestFile = (path: string): FileDigest => ({ path, sha256: digester.sha256(path) });
  const executablePath = executableThatRuns(command);
  refuseNotUtf8('executable', executablePath);
  const executable = executablePath === undefined ? undefined : digestFile(executablePath);
  const scriptPath = interpreterScript(executablePath, args);
  const scriptReal = scriptPath === undefined ? undefined : realpathSync.native(resolve(scriptPath));
  refuseNotUtf8('script', scriptReal);
  const script = scriptReal === undefined ? undefined : digestFile(scriptReal);
  const packagePath = findPackageJson(script?.path ?? executable?.path);
  return {
    name,
    command,
    args: [...args],
    ...(executable === undefined ? {} : { executable }),
    ...(script === undefined ? {} : { script }),
    ...(packagePath === undefined ? {} : { package: packageIdentity(packagePath) }),
  };
}

/**
 * The executable and script are granted to the sandbox without a flag, so
 * they follow the grants' rule (capability/path-glob.ts): a path holding
 * U+FFFD may be a look-alike of a name with a byte that is not UTF-8, which
 * argv decoding turned into it, and is refused rather than run.
 */
function refuseNotUtf8(what: 'executable' | 'script', path: string | undefined): void {
  const problem = path === undefined ? undefined : notUtf8PathProblem(path);
  if (problem !== undefined) {
    throw new OacpError<McpErrorCode>('MCP_BAD_OPTIONS', `the command's ${what} ${path}: ${problem}`);
  }
}

export function remoteServerIdentity(name: string, url: URL): ServerIdentity {
  return { name, url: url.href };
}

/** Executables whose first operand is the program they run (so that file is the workload's code). */
const INTERPRETER = /^(node|nodejs|deno|bun|python[0-9.]*|ruby|perl|php|bash|sh|dash)$/;

/**
 * The script an interpreter runs: its first operand, when the executable is an
 * interpreter and the operand is a file. Any other command's file arguments are
 * data (think `cat /etc/shadow`): they are neither the workload's code nor
 * readable without a grant.
 */
function interpreterScript(executable: string | undefined, args: readonly string[]): string | undefined {
  if (executable === undefined || !INTERPRETER.test(basename(executable))) return undefined;
  const operand = args.find((arg) => !arg.startsWith('-'));
  return operand !== undefined && isFile(resolve(operand)) ? operand : undefined;
}

/**
 * `args` with the interpreter's script given as an absolute path: the sandbox
 * has its own working directory, so `node ./server.js` must name the file it
 * was granted, not a path relative to the host's current directory.
 */
export function withAbsoluteScript(command: string, args: readonly string[]): string[] {
  const script = interpreterScript(executableThatRuns(command), args);
  if (script === undefined) return [...args];
  const at = args.indexOf(script);
  return args.map((arg, index) => (index === at ? realpathSync.native(resolve(arg)) : arg));
}

/**
 * The absolute, symlink-resolved file `command` runs: the Airlock's own lookup
 * (a bare name on the sandbox's fixed PATH, every tier, light included), not
 * the host's PATH, where `~/bin/x` or `node_modules/.bin/x` would be hashed
 * into receipts while `/usr/bin/x` ran.
 */
export function executableThatRuns(command: string): string | undefined {
  return findExecutable(command)?.real;
}

/** The nearest package.json at or above `file`'s directory. */
export function findPackageJson(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  let dir = dirname(file);
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (isFile(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** More than any package.json npm would publish; a bigger one is refused, not digested in part. */
const MAX_PACKAGE_JSON_BYTES = 16 * 1024 * 1024;

/**
 * The package.json's digest and fields, both from the one read of one
 * descriptor: digesting it by path and then parsing it by path again let a
 * swap in between give receipts one file's digest and another's name,
 * version and entries.
 */
function packageIdentity(found: string): PackageIdentity {
  // Resolved once; the open below does not follow a symlink put in its place afterwards.
  const path = realpathSync.native(found);
  const bytes = readRegularFile(path, MAX_PACKAGE_JSON_BYTES);
  const digest = { path: found, sha256: createHash('sha256').update(bytes).digest('hex') };
  try {
    const json = JSON.parse(bytes.toString('utf8')) as {
      name?: unknown;
      version?: unknown;
      bin?: unknown;
      main?: unknown;
    };
    return {
      ...digest,
      ...(typeof json.name === 'string' ? { name: json.name } : {}),
      ...(typeof json.version === 'string' ? { version: json.version } : {}),
      entries: packageEntries(dirname(path), json.bin, json.main),
    };
  } catch {
    return { ...digest, entries: [] };
  }
}

/** `bin` (a path, or a map of names to paths) and `main` as Node resolves them, for the files that exist. */
function packageEntries(dir: string, bin: unknown, main: unknown): string[] {
  const bins =
    typeof bin === 'string'
      ? [bin]
      : typeof bin === 'object' && bin !== null
        ? Object.values(bin).filter((value): value is string => typeof value === 'string')
        : [];
  const mainPath = typeof main === 'string' && main !== '' ? main : 'index.js';
  const candidates = [
    ...bins.map((file) => resolve(dir, file)),
    // `main` may leave out the extension or name a folder, as require() allows.
    ...['', '.js', '.cjs', '.mjs', '/index.js'].map((suffix) => resolve(dir, mainPath) + suffix),
  ];
  return [...new Set(candidates.filter(isFile).map((file) => realpathSync.native(file)))];
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
