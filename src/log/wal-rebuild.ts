import { link, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDirectory } from './atomic-file.js';
import { logError } from './errors.js';
import { hashLeaf, sameBytes } from './hash.js';
import { TILE_WIDTH } from './hash-level.js';
import { MerkleTree } from './merkle-tree.js';
import type { SignedTree } from './signed-state.js';
import { entriesPath } from './tile-path.js';
import { decodeBundle, MAX_ENTRY_BYTES } from './tile-writer.js';
import { WAL_FILE } from './transparency-log.js';
import { RECORD_HEADER } from './wal-scan.js';

/**
 * Rebuilds `log.wal` when it lost or damaged entries that a signed checkpoint covers: the
 * entries of the signed tree come from the entry bundles, each checked against the signed
 * roots; records after the signed tree come from the old file while they still verify. The
 * old file is kept as `log.wal.damaged-<time>`; nothing is deleted.
 */
export async function rebuildWalFromTiles(
  dir: string,
  origin: string,
  published: SignedTree,
  signed: SignedTree,
): Promise<string[]> {
  const target = Math.max(published.size, signed.size);
  const entries: Uint8Array[] = [];
  for (let n = 0; n * TILE_WIDTH < target; n += 1) {
    const width = Math.min(TILE_WIDTH, target - n * TILE_WIDTH);
    const bundle =
      (await readOptional(join(dir, entriesPath(n, width)))) ??
      (await readOptional(join(dir, entriesPath(n, TILE_WIDTH))));
    const decoded = bundle === undefined ? undefined : safeDecode(bundle);
    if (decoded === undefined || decoded.length < width) {
      throw logError(
        'LOG_CORRUPT',
        `neither log.wal nor the entry bundles hold every entry of the signed tree of ${target} (bundle ${n} is missing or short); nothing was changed`,
      );
    }
    entries.push(...decoded.slice(0, width));
  }
  const tree = new MerkleTree();
  for (const entry of entries) tree.push(hashLeaf(entry));
  for (const tree_ of [published, signed]) {
    if (tree_.size > 0 && !sameBytes(tree.root(tree_.size), tree_.root)) {
      throw logError(
        'LOG_CORRUPT',
        `the entry bundles do not hash to the signed root at size ${tree_.size}; nothing was changed`,
      );
    }
  }
  const walPath = join(dir, WAL_FILE);
  const old = await readFile(walPath);
  const header = Buffer.from(`oacp-wal/v1\n${origin}\n`);
  const later = recordsAfter(old, header.length, target);
  const records = [...entries, ...later].map((entry) => {
    const record = Buffer.alloc(RECORD_HEADER + entry.length);
    record.writeUInt32BE(entry.length, 0);
    record.set(hashLeaf(entry), 4);
    record.set(entry, RECORD_HEADER);
    return record;
  });
  const temp = `${walPath}.rebuilt-${process.pid}`;
  const handle = await open(temp, 'wx');
  try {
    await handle.writeFile(Buffer.concat([header, ...records]));
    await handle.sync();
  } finally {
    await handle.close();
  }
  const kept = `${walPath}.damaged-${Date.now()}`;
  await link(walPath, kept);
  await rename(temp, walPath);
  await syncDirectory(dir);
  return [
    `rebuilt log.wal from the entry bundles (${target} signed entries${later.length > 0 ? ` + ${later.length} later records from the old file` : ''}); the old file is kept as ${kept.slice(dir.length + 1)}`,
  ];
}

/** Records of the old file from index `from` on, found by walking length fields, while they verify. */
function recordsAfter(file: Buffer, start: number, from: number): Uint8Array[] {
  const found: Uint8Array[] = [];
  let at = start;
  for (let i = 0; at + RECORD_HEADER <= file.length; i += 1) {
    const length = file.readUInt32BE(at);
    if (length > MAX_ENTRY_BYTES || at + RECORD_HEADER + length > file.length) break;
    const entry = file.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length);
    const valid = sameBytes(hashLeaf(entry), file.subarray(at + 4, at + RECORD_HEADER));
    if (i >= from) {
      if (!valid) break;
      found.push(new Uint8Array(entry));
    }
    at += RECORD_HEADER + length;
  }
  return found;
}

function safeDecode(bundle: Buffer): Uint8Array[] | undefined {
  try {
    return decodeBundle(new Uint8Array(bundle));
  } catch {
    return undefined;
  }
}

async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
