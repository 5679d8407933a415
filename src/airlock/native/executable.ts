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
 * The absolute path of the program to run, looked up in the sandbox PATH
 * (never the host's) when given as a bare name, so what is checked and bound
 * is what the sandbox will execute.
 */
export function resolveExecutable(
  command: string,
  cwd?: string,
  invokerPath = process.env.PATH ?? '',
): { path: string; real: string } {
  const candidates = command.includes('/')
    ? [isAbsolute(command) ? command : resolve(cwd ?? process.cwd(), command)]
    : SAFE_PATH.split(':').map((dir) => join(dir, command));
  const found = candidates.find(executable);
  if (found === undefined) {
    throw new OacpError<NativeErrorCode>(
      'AIRLOCK_SPAWN_FAILED',
      `cannot start ${command}: no executable file found${command.includes('/') ? '' : ` in ${SAFE_PATH}${onInvokerPath(command, invokerPath)}`}`,
    );
  }
  return { path: found, real: realpathSync(found) };
}

/**
 * Where a bare name the sandbox's PATH lacks is on the invoker's (a project's
 * `node_modules/.bin`, `~/.local/bin`), said so the error names the fix: that
 * PATH is never searched, because what runs must be what was checked and bound.
 */
function onInvokerPath(command: string, invokerPath: string): string {
  const found = invokerPath
    .split(':')
    .filter((dir) => isAbsolute(dir))
    .map((dir) => join(dir, command))
    .find(executable);
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
