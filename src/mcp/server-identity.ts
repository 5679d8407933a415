import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';

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
  readonly package?: FileDigest & { readonly name?: string; readonly version?: string };
}

export interface FileDigest {
  readonly path: string;
  readonly sha256: string;
}

export function serverIdentity(name: string, command: string, args: readonly string[]): ServerIdentity {
  const executablePath = resolveExecutable(command);
  const executable = executablePath === undefined ? undefined : digestFile(executablePath);
  const scriptPath = args.find((arg) => !arg.startsWith('-') && isFile(resolve(arg)));
  const script = scriptPath === undefined ? undefined : digestFile(realpathSync(resolve(scriptPath)));
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

export function remoteServerIdentity(name: string, url: URL): ServerIdentity {
  return { name, url: url.href };
}

/** The absolute, symlink-resolved path `command` runs, searching PATH like a shell would. */
export function resolveExecutable(command: string, path = process.env.PATH ?? ''): string | undefined {
  if (command.includes('/')) {
    const absolute = isAbsolute(command) ? command : resolve(command);
    return isExecutable(absolute) ? realpathSync(absolute) : undefined;
  }
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    if (isExecutable(candidate)) return realpathSync(candidate);
  }
  return undefined;
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

function packageIdentity(path: string): FileDigest & { name?: string; version?: string } {
  const digest = digestFile(path);
  try {
    const json = JSON.parse(readFileSync(path, 'utf8')) as { name?: unknown; version?: unknown };
    return {
      ...digest,
      ...(typeof json.name === 'string' ? { name: json.name } : {}),
      ...(typeof json.version === 'string' ? { version: json.version } : {}),
    };
  } catch {
    return digest;
  }
}

function digestFile(path: string): FileDigest {
  return { path, sha256: createHash('sha256').update(readFileSync(path)).digest('hex') };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isExecutable(path: string): boolean {
  if (!existsSync(path) || !isFile(path)) return false;
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
