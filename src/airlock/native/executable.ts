import { accessSync, constants, realpathSync, statSync } from 'node:fs';
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
export function resolveExecutable(command: string, cwd?: string): { path: string; real: string } {
  const candidates = command.includes('/')
    ? [isAbsolute(command) ? command : resolve(cwd ?? process.cwd(), command)]
    : SAFE_PATH.split(':').map((dir) => join(dir, command));
  const found = candidates.find(executable);
  if (found === undefined) {
    throw new OacpError<NativeErrorCode>(
      'AIRLOCK_SPAWN_FAILED',
      `cannot start ${command}: no executable file found${command.includes('/') ? '' : ` in ${SAFE_PATH}`}`,
    );
  }
  return { path: found, real: realpathSync(found) };
}
