import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

export interface CodeFile {
  readonly path: string;
  readonly sha256: string;
}

/** Resolves a command name the way a shell would, through PATH; absolute and relative paths stand. */
export function resolveExecutable(command: string, path = process.env.PATH ?? ''): string | undefined {
  if (command.includes('/')) return isRegularFile(resolve(command)) ? resolve(command) : undefined;
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    if (isRegularFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The files that are the code of a command line: its executable and every
 * argument naming an existing regular file (the script it runs). Their digests
 * go into receipts, so a verifier learns exactly which bytes ran.
 */
export function codeFiles(command: string, args: readonly string[]): CodeFile[] {
  const files: CodeFile[] = [];
  const executable = resolveExecutable(command);
  if (executable !== undefined) files.push(digestFile(executable));
  for (const arg of args) {
    if (arg.startsWith('-')) continue;
    const path = resolve(arg);
    if (isRegularFile(path)) files.push(digestFile(path));
  }
  return files;
}

function digestFile(path: string): CodeFile {
  return { path, sha256: createHash('sha256').update(readFileSync(path)).digest('hex') };
}

function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
