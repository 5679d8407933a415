import { readFile, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { parseTilePath } from '../../log/tile-path.js';

/**
 * Whether `path` is exactly one c2sp.org/tlog-tiles path (`tile/<L>/<N>[.p/<W>]` or
 * `tile/entries/<N>[.p/<W>]`) in the one spelling the log writes, parsed by the log's own
 * parser. Anything else (dot segments, other files of the log directory such as the
 * write-ahead file or the lock, leading zeros, misplaced `x` prefixes) is refused before the
 * file system is touched.
 */
export function isTilePath(path: string): boolean {
  return parseTilePath(path) !== undefined;
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
