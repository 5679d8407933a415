import { accessSync, closeSync, constants, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { OacpError } from '../../core/errors.js';
import { SAFE_PATH } from './env.js';
import type { NativeErrorCode } from './errors.js';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The program a command names, as the sandbox will execute it: a bare name is
 * looked up in the sandbox PATH (never the host's), a path against `cwd`.
 * Receipts' server identity digests this same file (mcp/server-identity.ts),
 * so what is checked, bound and hashed is what runs. Undefined when none.
 */
export function findExecutable(command: string, cwd?: string): { path: string; real: string } | undefined {
  const candidates = command.includes('/')
    ? [isAbsolute(command) ? command : resolve(cwd ?? process.cwd(), command)]
    : SAFE_PATH.split(':').map((dir) => join(dir, command));
  const found = candidates.find(executable);
  return found === undefined ? undefined : { path: found, real: realpathSync(found) };
}

/** {@link findExecutable}, refused with the fix when there is none. */
export function resolveExecutable(
  command: string,
  cwd?: string,
  invokerPath = process.env.PATH ?? '',
): { path: string; real: string } {
  const found = findExecutable(command, cwd);
  if (found === undefined) {
    throw new OacpError<NativeErrorCode>(
      'AIRLOCK_SPAWN_FAILED',
      `cannot start ${command}: no executable file found${command.includes('/') ? '' : ` in ${SAFE_PATH}${onInvokerPath(command, invokerPath)}`}`,
    );
  }
  return found;
}

/**
 * The first executable file called `command` in a PATH-like list of absolute
 * directories: how a shell given that PATH would find it. Only for a tool the
 * invoker means (npm for install scripts), never for what a sandbox runs.
 */
export function findOnPath(command: string, path: string): string | undefined {
  return path
    .split(':')
    .filter((dir) => isAbsolute(dir))
    .map((dir) => join(dir, command))
    .find(executable);
}

/**
 * Where a bare name the sandbox's PATH lacks is on the invoker's (a project's
 * `node_modules/.bin`, `~/.local/bin`), said so the error names the fix: that
 * PATH is never searched, because what runs must be what was checked and bound.
 */
function onInvokerPath(command: string, invokerPath: string): string {
  const found = findOnPath(command, invokerPath);
  return found === undefined
    ? ''
    : ` (the sandbox's PATH; your PATH finds ${found}: start it by that path, \`-- ${found}\`)`;
}

/** Whether `path` is a script the kernel hands to its interpreter (`#!`): it is code, not a binary. */
export function startsWithShebang(path: string): boolean {
  const head = Buffer.alloc(2);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    return readSync(fd, head, 0, 2, 0) === 2 && head.toString('latin1') === '#!';
  } finally {
    closeSync(fd);
  }
}

/**
 * The path the sandbox executes. A script reached through a symlink (npm's
 * `node_modules/.bin/NAME -> ../pkg/dist/index.js`) runs at its real path:
 * the grant binds the link's target as a plain file at the link's path, so
 * an interpreter there would resolve the script's own imports beside the
 * link (`.bin/config.js`) where, on the host, Node and Python follow the
 * link first. A binary keeps the path it was given (a multi-call binary
 * reads its name from it).
 */
export function executionPath(exe: { path: string; real: string }): string {
  return exe.path !== exe.real && startsWithShebang(exe.real) ? exe.real : exe.path;
}
