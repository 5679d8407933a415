import { readFile } from 'node:fs/promises';
import { openCheckpoint } from './checkpoint.js';
import { logError } from './errors.js';
import { sameBytes } from './hash.js';
import type { MerkleTree } from './merkle-tree.js';
import { ed25519NoteVerifier } from './note-keys.js';

/**
 * The size of the checkpoint already published, after checking it against the replayed
 * tree. A published checkpoint larger than the write-ahead file means acknowledged entries
 * were lost; signing a new checkpoint then would fork the log, so opening is refused.
 */
export async function readPublished(
  path: string,
  vkey: string,
  tree: MerkleTree,
): Promise<{ size: number; exists: boolean }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { size: 0, exists: false };
    throw error;
  }
  const opened = openCheckpoint(text, ed25519NoteVerifier(vkey));
  if (!opened.ok) {
    throw logError(
      'LOG_CORRUPT',
      `the published checkpoint does not verify with this log's key: ${opened.reason}`,
    );
  }
  const { size, root } = opened.value.checkpoint;
  if (size > tree.size) {
    throw logError(
      'LOG_CORRUPT',
      `the published checkpoint covers ${size} entries but the write-ahead log holds ${tree.size}: acknowledged entries are missing`,
    );
  }
  if (!sameBytes(tree.root(size), root)) {
    throw logError(
      'LOG_CORRUPT',
      `the write-ahead log does not match the published checkpoint at size ${size}`,
    );
  }
  return { size, exists: true };
}
