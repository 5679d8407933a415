import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes a file so readers see either the old or the new content, never a part: write a
 * sibling temp file, then rename over. With `durable`, the data is fsynced before the rename
 * and the directory after it, so the new content also survives a power cut.
 *
 * The calls stay off the main thread (measured: making them synchronous moved about 4 µs of
 * CPU per receipt onto a writer's main thread for no saving overall); the directory is created
 * only when opening the temp file finds it missing, not before every write.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  durable = false,
): Promise<void> {
  // A private temp name: several processes may publish into one log directory.
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await openCreating(temp);
  try {
    try {
      await handle.writeFile(data);
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    // A write that failed (a full disk) leaves no partial temp file to keep the disk full.
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  if (durable) await syncDirectory(dirname(path));
}

/** Creates `temp` for writing, creating its directory first if it is missing. */
async function openCreating(temp: string): Promise<FileHandle> {
  try {
    return await open(temp, 'w');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dirname(temp), { recursive: true });
  return open(temp, 'w');
}

/** fsync on a directory makes renames and creations in it durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
