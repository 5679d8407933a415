import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import { logError } from './errors.js';
import type { FileLock } from './file-lock.js';
import type { MerkleTree } from './merkle-tree.js';
import { checkExtends, readPublished } from './published-checkpoint.js';
import { readSignedState, writeSignedState } from './signed-state.js';
import { type EntryReader, writeTiles } from './tile-writer.js';

export interface DerivedFilesParts {
  readonly dir: string;
  readonly vkey: string;
  readonly tree: MerkleTree;
  readonly readEntries: EntryReader;
  readonly signedCheckpoint: (size: number) => string;
  /** The home's publishing lock: one process at a time writes tiles and the checkpoint. */
  readonly lock: FileLock;
  /** Brings the tree up to every record in the write-ahead log (others' too). */
  readonly refresh: () => Promise<void>;
  /** fdatasync of the write-ahead log: nothing is published that a power cut could take back. */
  readonly datasync: () => Promise<void>;
  /** Where the largest published tree is remembered outside the directory, if anywhere. */
  readonly stateFile: string | undefined;
  /** Told of every size known to be signed, so the log never signs a smaller one. */
  readonly signed: (size: number) => void;
}

/**
 * Keeps the servable files (tiles, entry bundles, then the signed `checkpoint`) in step
 * with the write-ahead log. Any writer process may run a round; the publishing lock makes
 * rounds take turns, and each round starts from the checkpoint on disk (another process
 * may have moved it), so a burst of appends from many processes costs a few rounds.
 * The checkpoint is written last, so a checkpoint on disk always has its tiles beside it;
 * it only ever grows, and the outside state file grows with it.
 */
export class DerivedFiles {
  private running: Promise<void> | undefined;
  private failure: unknown;
  private publishedSize: number;
  /** Sizes a checkpoint was handed out for that are not published yet: each needs its partial tiles. */
  private readonly handedOut = new Set<number>();

  constructor(
    private readonly parts: DerivedFilesParts,
    publishedSize: number,
  ) {
    this.publishedSize = publishedSize;
  }

  /** The tree size of the checkpoint file on disk, as last seen by this process. */
  get published(): number {
    return this.publishedSize;
  }

  /**
   * Notes that a checkpoint for `size` left the log. tlog-tiles requires the partial tiles of
   * every checkpointed size to be served, so the next round writes them on its way up.
   */
  checkpointIssued(size: number): void {
    if (size > this.publishedSize) this.handedOut.add(size);
  }

  /** A round that found damage or a fork: the log must stop appending until it is reopened. */
  get fatal(): unknown {
    const code = (this.failure as { code?: unknown } | undefined)?.code;
    return code === 'LOG_CORRUPT' || code === 'LOG_FORK' ? this.failure : undefined;
  }

  /** Starts a round unless one is running (it will pick up the new size itself). */
  request(): void {
    if (this.running !== undefined) return;
    this.failure = undefined;
    this.running = this.parts.lock
      .with(() => this.round())
      .catch((error: unknown) => {
        this.failure = error;
      })
      .finally(() => {
        this.running = undefined;
        // A commit may have landed after the round read the size but before this ran.
        if (this.failure === undefined && this.publishedSize < this.parts.tree.size) this.request();
      });
  }

  /** Waits until the files match the tree as it is now; throws the last write failure. */
  async settle(): Promise<void> {
    this.request();
    while (this.running !== undefined) await this.running;
    if (this.failure !== undefined) throw this.failure;
  }

  private async round(): Promise<void> {
    const { dir, vkey, tree, stateFile } = this.parts;
    const onDisk = await readPublished(join(dir, 'checkpoint'), vkey);
    if (onDisk.exists && onDisk.size >= tree.size && this.handedOut.size === 0) {
      // Another writer's round already published past every record this process appended
      // (its round checked them against its own tree): nothing to write, no tree to extend.
      // With many writers this keeps rounds to about one per burst instead of one per writer.
      // (The signed floor is raised by the next full round, once this tree has caught up.)
      this.publishedSize = onDisk.size;
      return;
    }
    await this.parts.refresh();
    await this.parts.datasync();
    checkExtends(tree, onDisk, 'the published checkpoint', 'LOG_CORRUPT');
    this.parts.signed(onDisk.size);
    const target = tree.size;
    if (onDisk.exists && onDisk.size >= target) {
      this.publishedSize = onDisk.size;
      return;
    }
    const state = stateFile === undefined ? undefined : await readSignedState(stateFile, vkey);
    if (state !== undefined) {
      checkExtends(tree, state, `the signed-size state ${stateFile}`, 'LOG_FORK');
      if (state.size > target) throw logError('LOG_FORK', `this key already signed size ${state.size}`);
    }
    const stops = [...this.handedOut]
      .filter((size) => size > onDisk.size && size < target)
      .sort((a, b) => a - b);
    let from = onDisk.size;
    for (const size of [...stops, target]) {
      await writeTiles(dir, tree, this.parts.readEntries, from, size);
      from = size;
    }
    for (const size of [...this.handedOut]) if (size <= target) this.handedOut.delete(size);
    const note = this.parts.signedCheckpoint(target);
    if (stateFile !== undefined)
      await writeSignedState(stateFile, vkey, { size: target, root: tree.root(target) });
    await writeFileAtomic(join(dir, 'checkpoint'), note, true);
    this.parts.signed(target);
    this.publishedSize = target;
  }
}
