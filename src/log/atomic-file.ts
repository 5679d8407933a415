import { randomBytes } from 'node:crypto';
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes a file so readers see either the old or the new content, never a part: write a
 * sibling temp file, then rename over. With `durable`, the data is fsynced before the rename
 * and the directory after it, so the new content also survives a power cut.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  durable = false,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  // A private temp name: several processes may publish into one log directory.
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(data);
    if (durable) await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  if (durable) await syncDirectory(dirname(path));
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
