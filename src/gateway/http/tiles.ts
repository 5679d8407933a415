import { readFile, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';

/**
 * The c2sp.org/tlog-tiles paths a client may ask for: `tile/<L>/<N>[.p/<W>]`
 * and `tile/entries/<N>[.p/<W>]`, with N in 3-digit groups prefixed by `x`.
 * Anything else (dot segments, other files of the log directory such as the
 * write-ahead file or the lock) is refused before the file system is touched.
 */
const TILE_PATH =
  /^tile\/(?:entries|[0-9]|[1-5][0-9]|6[0-3])\/(?:x[0-9]{3}\/)*[0-9]{3}(?:\.p\/(?:[1-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5]))?$/;

export function isTilePath(path: string): boolean {
  return TILE_PATH.test(path);
}

/** Reads a tile from `logDir`; undefined when the path is not a tile path or the tile does not exist. */
export async function readTile(logDir: string, path: string): Promise<Uint8Array | undefined> {
  if (!isTilePath(path)) return undefined;
  try {
    const root = await realpath(join(logDir, 'tile'));
    const file = await realpath(join(logDir, path));
    // A symlink planted inside the tile tree must not lead out of it.
    if (!file.startsWith(root + sep)) return undefined;
    return await readFile(file);
  } catch {
    return undefined;
  }
}

/** Full tiles never change; a partial tile (`.p/W`) is replaced by the full one later but never altered. */
export function tileCacheControl(path: string): string {
  return path.includes('.p/') ? 'public, max-age=60' : 'public, max-age=31536000, immutable';
}
