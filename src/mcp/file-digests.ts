import { type BigIntStats, lstatSync } from 'node:fs';
import { z } from 'zod';
import { sha256OfRegularFile } from '../core/regular-file.js';
import { JsonCacheFile } from './json-cache-file.js';

/** sha256 of a file's bytes; how the server identity digests its executable and script. */
export interface FileDigester {
  sha256(path: string): string;
}

/**
 * Reads and hashes the file every time, from one descriptor that is a regular
 * file (a symlink or FIFO swapped in after the path was checked is refused,
 * not followed or waited on), in bounded chunks.
 */
export const directDigester: FileDigester = {
  sha256: (path) => sha256OfRegularFile(path).sha256,
};

function stampOf(stat: BigIntStats): string {
  return `${stat.dev}:${stat.ino} ${stat.mode} ${stat.size} ${stat.mtimeNs} ${stat.ctimeNs}`;
}

const StampFileSchema = z.strictObject({
  version: z.literal(1),
  files: z.record(
    z.string(),
    z.strictObject({ stamp: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  ),
});

/**
 * File digests remembered under the OACP home by the file's stamp (device,
 * inode, size, mode, modification and change times in nanoseconds): a write
 * moves the change time, which no unprivileged process can set back, so an
 * unchanged stamp means unchanged bytes. The node executable (~100 MB) is
 * then hashed once, not at every `oacp mcp run`. A file whose stamp moved is
 * hashed again; a cache that cannot be read or written only costs a hash.
 */
export class StampedDigester implements FileDigester {
  readonly #cache: JsonCacheFile<typeof StampFileSchema>;

  constructor(path: string) {
    this.#cache = new JsonCacheFile(path, StampFileSchema, () => ({ version: 1 as const, files: {} }));
  }

  sha256(path: string): string {
    const file = this.#cache.read();
    const known = file.files[path];
    if (known?.stamp === stampOf(lstatSync(path, { bigint: true }))) return known.sha256;
    // The stamp kept is the descriptor's that was hashed, not the path's a moment earlier.
    const { sha256, stat } = sha256OfRegularFile(path);
    this.#cache.write({ version: 1, files: { ...file.files, [path]: { stamp: stampOf(stat), sha256 } } });
    return sha256;
  }
}
