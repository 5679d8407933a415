import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SECRET_DIR_MODE, SECRET_FILE_MODE } from './home-layout.js';

/** Creates `dir` owner-only, tightening it if it already existed (mkdir's mode is filtered by umask). */
export function ensureSecretDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: SECRET_DIR_MODE });
  chmodSync(dir, SECRET_DIR_MODE);
}

/**
 * Writes a 0600 file atomically: a reader sees the old file or the whole new one,
 * never half a key. With `exclusive`, an existing file is left alone and the call
 * throws EEXIST (the hard link is the atomic "create if absent").
 */
export function writeSecretFile(
  path: string,
  data: string | Uint8Array,
  options: { exclusive: boolean },
): void {
  const temp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  writeFileSync(temp, data, { mode: SECRET_FILE_MODE, flag: 'wx' });
  try {
    chmodSync(temp, SECRET_FILE_MODE);
    if (options.exclusive) linkSync(temp, path);
    else renameSync(temp, path);
  } finally {
    rmSync(temp, { force: true });
  }
}
