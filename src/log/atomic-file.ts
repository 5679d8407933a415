import { randomBytes } from 'node:crypto';
import { closeSync, fsync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Writes a file so readers see either the old or the new content, never a part: write a
 * sibling temp file, then rename over. With `durable`, the data is fsynced before the rename
 * and the directory after it, so the new content also survives a power cut.
 *
 * The files written this way are small (a tile, a checkpoint, a state file), so opening,
 * writing, closing and renaming are synchronous system calls: each takes microseconds, while a
 * round trip through libuv's thread pool costs more CPU than the call itself (a publishing
 * round made some 40 of them). Only the fsyncs, which wait for the disk, leave the thread.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  durable = false,
): Promise<void> {
  const dir = dirname(path);
  // A private temp name: several processes may publish into one log directory.
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openCreating(temp, dir);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    if (durable) await fsyncFd(fd);
  } catch (error) {
    closeSync(fd);
    removeQuietly(temp);
    throw error;
  }
  closeSync(fd);
  renameSync(temp, path);
  if (durable) await syncDirectory(dir);
}

/** Creates `temp` for writing, creating its directory first if it is missing. */
function openCreating(temp: string, dir: string): number {
  try {
    return openSync(temp, 'w');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dir, { recursive: true });
  return openSync(temp, 'w');
}

/** Removes a temp file left by a failed write; the write's own error is the one to report. */
function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone or not removable: nothing more to do about a temp file
  }
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    fsync(fd, (error) => (error === null ? resolve() : reject(error)));
  });
}

/** fsync on a directory makes renames and creations in it durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}
