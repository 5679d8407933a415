import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import type { MerkleTree } from './merkle-tree.js';
import { type EntryReader, writeTiles } from './tile-writer.js';

/**
 * Keeps the servable files (tiles, entry bundles, then the signed `checkpoint`) in step
 * with the committed tree. It runs behind the commits, catching up to whatever size the
 * tree has reached each time round, so a burst of appends costs one round, not one per entry.
 * The checkpoint is written last, so a checkpoint on disk always has its tiles beside it.
 */
export class DerivedFiles {
  private running: Promise<void> | undefined;
  private failure: unknown;
  private checkpointWritten: boolean;
  /** Sizes a checkpoint was handed out for that are not published yet: each needs its partial tiles. */
  private readonly handedOut = new Set<number>();

  constructor(
    private readonly dir: string,
    private readonly tree: MerkleTree,
    private readonly readEntries: EntryReader,
    private readonly signedCheckpoint: (size: number) => string,
    private publishedSize: number,
    checkpointExists: boolean,
  ) {
    this.checkpointWritten = checkpointExists;
  }

  /** The tree size of the checkpoint file on disk. */
  get published(): number {
    return this.publishedSize;
  }

  /**
   * Notes that a checkpoint for `size` left the log. tlog-tiles requires the partial tiles of
   * every checkpointed size to be served, so the next round writes them on its way up.
   * Sizes only change once per commit, so this costs at most one tile set per commit.
   */
  checkpointIssued(size: number): void {
    if (size > this.publishedSize) this.handedOut.add(size);
  }

  /** Starts a catch-up round unless one is running (it will pick up the new size itself). */
  request(): void {
    if (this.running !== undefined) return;
    this.failure = undefined;
    this.running = this.catchUp()
      .catch((error: unknown) => {
        this.failure = error;
      })
      .finally(() => {
        this.running = undefined;
        // A commit may have landed after the last check of the loop but before this ran.
        if (this.failure === undefined && this.publishedSize < this.tree.size) this.request();
      });
  }

  /** Waits until the files match the tree as it is now; throws the last write failure. */
  async settle(): Promise<void> {
    this.request();
    while (this.running !== undefined) await this.running;
    if (this.failure !== undefined) throw this.failure;
  }

  private async catchUp(): Promise<void> {
    while (this.publishedSize < this.tree.size || !this.checkpointWritten) {
      const target = this.tree.size;
      const stops = [...this.handedOut].filter((size) => size < target).sort((a, b) => a - b);
      let from = this.publishedSize;
      for (const size of [...stops, target]) {
        await writeTiles(this.dir, this.tree, this.readEntries, from, size);
        from = size;
      }
      for (const size of [...this.handedOut]) if (size <= target) this.handedOut.delete(size);
      await writeFileAtomic(join(this.dir, 'checkpoint'), this.signedCheckpoint(target), true);
      this.publishedSize = target;
      this.checkpointWritten = true;
    }
  }
}
