import { openCheckpoint } from './checkpoint.js';
import { logError } from './errors.js';
import { sameBytes } from './hash.js';
import type { MerkleTree } from './merkle-tree.js';
import { ed25519NoteVerifier } from './note-keys.js';
import type { SignedTree } from './signed-state.js';
import { readSmallFile } from './small-file.js';

export interface PublishedCheckpoint extends SignedTree {
  readonly exists: boolean;
  /** The note as it is on disk. */
  readonly text: string;
}

/**
 * Reads and verifies the `checkpoint` file; a missing file is the empty tree, not yet published.
 * `known` is a checkpoint this process verified or signed itself: when the file still holds
 * exactly its text, it is that checkpoint, and its signature is not checked again.
 */
export async function readPublished(
  path: string,
  vkey: string,
  known?: PublishedCheckpoint,
): Promise<PublishedCheckpoint> {
  const read = await readSmallFile(path);
  if (read.kind === 'absent') return { size: 0, root: new Uint8Array(), exists: false, text: '' };
  if (read.kind === 'unreadable') {
    throw logError(
      'LOG_CORRUPT',
      `the published checkpoint ${path} cannot be read: ${read.reason}`,
      read.cause,
    );
  }
  const text = read.text;
  if (known?.exists === true && known.text === text) return known;
  const opened = openCheckpoint(text, ed25519NoteVerifier(vkey));
  if (!opened.ok) {
    throw logError(
      'LOG_CORRUPT',
      `the published checkpoint does not verify with this log's key: ${opened.reason}`,
    );
  }
  const { size, root } = opened.value.checkpoint;
  return { size, root, exists: true, text };
}

/**
 * The tree size the `checkpoint` file claims, read WITHOUT checking its signature, or
 * undefined when it cannot be read. Only for deciding when to look again (whether another
 * writer's publishing round already covers this process's records): never trusted for
 * anything that is signed, served or refused; a lie only delays publishing until `settle`.
 */
export async function peekPublishedSize(path: string): Promise<number | undefined> {
  const read = await readSmallFile(path);
  if (read.kind !== 'text') return undefined;
  const line = read.text.split('\n', 2)[1] ?? '';
  return /^(0|[1-9][0-9]{0,15})$/.test(line) ? Number(line) : undefined;
}

/**
 * Refuses a replayed tree that a signed tree does not sit inside: fewer entries than were
 * signed means acknowledged entries are missing; another root at the signed size is a
 * different history. `what` names where the signed tree came from.
 */
export function checkExtends(
  tree: MerkleTree,
  signed: SignedTree,
  what: string,
  code: 'LOG_CORRUPT' | 'LOG_FORK',
): void {
  if (signed.size > tree.size) {
    throw logError(
      code,
      `${what} covers ${signed.size} entries but the write-ahead log holds ${tree.size} valid records: acknowledged entries are missing from record ${tree.size} on; nothing was changed (see \`oacp log fsck\`)`,
    );
  }
  if (signed.size > 0 && !sameBytes(tree.root(signed.size), signed.root)) {
    throw logError(
      code,
      `the write-ahead log does not match ${what} at size ${signed.size}: two histories under one key`,
    );
  }
}
