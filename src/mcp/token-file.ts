import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { OacpError } from '../core/errors.js';
import { BEARER_TOKEN } from './bearer-token.js';
import type { McpErrorCode } from './errors.js';
import { type HeldFile, writeHeldFile } from './held-file.js';

/**
 * Writes a token a bridge made to `<dir>/<pid>-<random>.token` (0600, created exclusively), for
 * the operator to hand on (`$(cat FILE)`). The name carries 128 random bits beside the pid: two
 * bridges sharing a home from different PID namespaces (containers, sandboxes) have the same pid,
 * and a name from the pid alone let the second overwrite the first's token. A name already taken
 * is refused, never replaced. The directory must be a real directory of this user, closed to
 * others (a planted symlink or an open one is refused). The token is never printed: logs name the
 * file only, and that name is how the operator finds this bridge's token. The file is held
 * (held-file.ts) while the bridge lives: `remove` deletes it when the bridge ends, and the next
 * bridge on the home deletes it if the bridge was killed first.
 */
export function writeTokenFile(dir: string, token: string, pid = process.pid): HeldFile {
  return writeHeldFile(dir, 'token', `${token}\n`, "a bridge's token", pid);
}

/** The most a token file may hold: a token and its newline, with room. */
const MAX_TOKEN_FILE_BYTES = 4096;

/**
 * The token in a file the operator named (`flag`), read once: it must be a regular file
 * (opened without following a final symlink, judged by the descriptor) that neither group
 * nor other may read or write, as ssh wants of a key, and hold one token of 32 to 512
 * characters (A-Za-z0-9._~+/=-, RFC 6750), a final newline allowed. Every refusal names
 * the flag and never quotes the file's contents.
 */
export function readTokenFile(path: string, flag: string): string {
  const refuse = (why: string): never => {
    throw new OacpError<McpErrorCode>('MCP_BAD_OPTIONS', `${flag} ${path}: ${why}`);
  };
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return refuse(
      code === 'ELOOP' ? 'is a symbolic link; name the file itself' : `cannot be read (${code ?? 'error'})`,
    );
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return refuse('is not a regular file');
    const mode = stat.mode & 0o777;
    if ((mode & 0o077) !== 0)
      return refuse(
        `its mode is ${mode.toString(8).padStart(4, '0')}: group or other may read or write it, so another account may hold the token; run chmod 600 on it`,
      );
    if (stat.size > MAX_TOKEN_FILE_BYTES) return refuse(`holds more than ${MAX_TOKEN_FILE_BYTES} bytes`);
    const buffer = Buffer.alloc(MAX_TOKEN_FILE_BYTES + 1);
    let total = 0;
    for (let read = -1; read !== 0 && total <= MAX_TOKEN_FILE_BYTES; total += read)
      read = readSync(fd, buffer, total, buffer.length - total, null);
    if (total > MAX_TOKEN_FILE_BYTES) return refuse(`holds more than ${MAX_TOKEN_FILE_BYTES} bytes`);
    const token = buffer
      .subarray(0, total)
      .toString('utf8')
      .replace(/\r?\n$/, '');
    if (!BEARER_TOKEN.test(token))
      return refuse(
        'must hold one token of 32 to 512 characters A-Za-z0-9._~+/=- (e.g. `openssl rand -base64 32`), nothing else',
      );
    return token;
  } finally {
    closeSync(fd);
  }
}
