import { join } from 'node:path';
import { isOacpError } from '../core/errors.js';
import { writeFileAtomic } from './atomic-file.js';
import { logError } from './errors.js';
import type { FileLock } from './file-lock.js';
import type { MerkleTree } from './merkle-tree.js';
import {
  checkExtends,
  type PublishedCheckpoint,
  peekPublishedSize,
  readPublished,
} from './published-checkpoint.js';
import { readSignedState, writeSignedState } from './signed-state.js';
import {
  type BundleCache,
  type EntryReader,
  IN_TURNS_OF_THREE,
  ONE_AT_A_TIME,
  type WritePace,
  writeTiles,
} from './tile-writer.js';

/**
 * How long a writer whose publishing round found the lock taken waits before it looks whether
 * the holder's rounds covered its records (then it leaves publishing to the holder).
 */
const HANDOVER_MS = 10;

/**
 * The least time between the end of one publishing round and the start of the next in one
 * process. A round writes and renames four files and fsyncs two of them with their directory:
 * about 2 ms of CPU, most of it in the filesystem, whatever the number of new records. Under a
 * steady stream of commits, rounds back to back cost a bridge a large share of a core; spaced,
 * each covers more commits: at most 20 rounds a second instead of 100 (the bridge bench at 16
 * in flight, alternating 10 and 50 ms in one sitting: 20-40 µs less CPU per call of about
 * 400). The first commit after a quiet spell still publishes at once, acknowledgement never
 * waits for a round, and `settle` (sync, close) never waits for the spacing.
 */
const ROUND_SPACING_MS = 50;

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
  /** Records known to be on stable storage (written before this process's last fdatasync began). */
  readonly durableSize: () => number;
  /** Where the largest published tree is remembered outside the directory, if anywhere. */
  readonly stateFile: string | undefined;
  /** The state file's lock (signed-state.ts): held from reading the state to recording the new size. */
  readonly stateLock: FileLock | undefined;
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
 *
 * With many writers, one of them publishes for all: a writer that finds the lock taken does
 * not queue behind it but looks again HANDOVER_MS later, and leaves publishing to the holder
 * if the checkpoint has meanwhile grown past its own records. So one process, not every
 * writer, reads back and hashes everyone's records (the tree hashes above the leaves are
 * computed lazily, see MerkleTree). `settle` always publishes itself, waiting for the lock.
 */
export class DerivedFiles {
  private running: Promise<void> | undefined;
  private handover: ReturnType<typeof setTimeout> | undefined;
  private spacing: ReturnType<typeof setTimeout> | undefined;
  /** performance.now() when this process's last round ended. */
  private lastRound = Number.NEGATIVE_INFINITY;
  private failure: unknown;
  private stopped = false;
  private publishedSize: number;
  /** The end of this process's last appended batch: what it must see published. */
  private ownEnd = 0;
  /** The last checkpoint this process verified or signed, so an unchanged file is not verified again. */
  private known: PublishedCheckpoint | undefined;
  private readonly bundles: BundleCache = {};
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

  /** Notes that this process appended records up to `end` (durably), and asks for a round. */
  appended(end: number): void {
    this.ownEnd = Math.max(this.ownEnd, end);
    this.request();
  }

  /**
   * Starts a round unless one is running (it will pick up the new size itself) or waiting for
   * another process's round; when another process holds the lock, see HANDOVER_MS.
   */
  request(): void {
    if (this.stopped) return;
    if (this.running !== undefined || this.handover !== undefined || this.spacing !== undefined) return;
    const wait = this.lastRound + ROUND_SPACING_MS - performance.now();
    if (wait > 0) {
      this.spacing = setTimeout(() => {
        this.spacing = undefined;
        this.request();
      }, wait);
      this.spacing.unref();
      return;
    }
    let started: Promise<void> | undefined;
    try {
      started = this.parts.lock.tryWith(() => this.round());
    } catch (error) {
      // Called from a timer: a lock that cannot be taken is this log's failure, never an
      // uncaught exception that ends the process.
      this.track(Promise.reject(error));
      return;
    }
    if (started !== undefined) this.track(started);
    else if (this.handedOut.size > 0) this.track(this.parts.lock.with(() => this.round()));
    else this.awaitHandover(this.ownEnd);
  }

  /** Waits until the files match the tree as it is now; throws the last write failure. */
  async settle(): Promise<void> {
    while (this.running !== undefined) await this.running;
    this.cancelTimers();
    this.track(this.parts.lock.with(() => this.round(IN_TURNS_OF_THREE)));
    while (this.running !== undefined) await this.running;
    if (this.failure !== undefined) throw this.failure;
  }

  /** The log is closing: no round starts from now on (a timer armed before may still fire). */
  stop(): void {
    this.stopped = true;
    this.cancelTimers();
  }

  /** Stops waiting on another process's rounds or for the spacing between rounds. */
  private cancelTimers(): void {
    if (this.handover !== undefined) clearTimeout(this.handover);
    this.handover = undefined;
    if (this.spacing !== undefined) clearTimeout(this.spacing);
    this.spacing = undefined;
  }

  private track(round: Promise<void>): void {
    this.failure = undefined;
    this.running = round
      .catch((error: unknown) => {
        this.failure = isOacpError(error)
          ? error
          : logError(
              'LOG_FAILED',
              `could not publish the tiles and checkpoint: ${(error as NodeJS.ErrnoException).code ?? String(error)}; the write-ahead log is unchanged (publishing resumes once writing works)`,
              error,
            );
      })
      .finally(() => {
        this.running = undefined;
        this.lastRound = performance.now();
        // A commit may have landed after the round read the size but before this ran.
        if (this.failure === undefined && this.publishedSize < this.parts.tree.size) this.request();
      });
  }

  /**
   * Another process is publishing: look again shortly. If its rounds reached `needed`, they
   * cover this process's records (and will cover the next ones while it keeps publishing);
   * if not, publish here, waiting for the lock.
   */
  private awaitHandover(needed: number): void {
    const timer = setTimeout(() => {
      void peekPublishedSize(join(this.parts.dir, 'checkpoint')).then((seen) => {
        if (this.handover !== timer) return;
        this.handover = undefined;
        if (this.running !== undefined || this.stopped) return;
        if (seen === undefined || seen < needed) {
          this.track(this.parts.lock.with(() => this.round()));
        } else if (seen < this.ownEnd) {
          this.request();
        }
      });
    }, HANDOVER_MS);
    timer.unref();
    this.handover = timer;
  }

  /**
   * One round. `pace`: rounds beside appends write their files one at a time (the cheapest in
   * CPU per receipt); the round `settle` runs, which nothing of this process appends beside,
   * three at a time (about a quarter of the event-loop turns: `close()` waits less).
   */
  private async round(pace: WritePace = ONE_AT_A_TIME): Promise<void> {
    const { dir, vkey, tree, stateFile } = this.parts;
    const onDisk = await readPublished(join(dir, 'checkpoint'), vkey, this.known);
    if (onDisk.exists) this.known = onDisk;
    if (onDisk.exists && onDisk.size >= tree.size && this.handedOut.size === 0) {
      // Another writer's round already published past every record this process appended
      // (its round checked them against its own tree): nothing to write, no tree to extend.
      // With many writers this keeps rounds to about one per burst instead of one per writer.
      // (The signed floor is raised by the next full round, once this tree has caught up.)
      this.publishedSize = onDisk.size;
      return;
    }
    await this.parts.refresh();
    checkExtends(tree, onDisk, 'the published checkpoint', 'LOG_CORRUPT');
    this.parts.signed(onDisk.size);
    const { stateLock } = this.parts;
    const publish = async (): Promise<void> => {
      const state = stateFile === undefined ? undefined : await readSignedState(stateFile, vkey);
      if (state !== undefined) {
        checkExtends(tree, state, `the signed-size state ${stateFile}`, 'LOG_FORK');
        this.parts.signed(state.size);
      }
      // Publish what this process's last fdatasync made durable (records of every writer that
      // were in the file before it began); sync again only when that adds nothing. A size the
      // state file already holds was durable when it was signed.
      let target = Math.max(Math.min(tree.size, this.parts.durableSize()), state?.size ?? 0);
      if (target <= onDisk.size && tree.size > onDisk.size) {
        await this.parts.datasync();
        target = Math.max(Math.min(tree.size, this.parts.durableSize()), state?.size ?? 0);
      }
      if (onDisk.exists && onDisk.size >= target) {
        this.publishedSize = onDisk.size;
        return;
      }
      const stops = [...this.handedOut]
        .filter((size) => size > onDisk.size && size < target)
        .sort((a, b) => a - b);
      let from = onDisk.size;
      for (const size of [...stops, target]) {
        await writeTiles(dir, tree, this.parts.readEntries, from, size, this.bundles, pace);
        from = size;
      }
      for (const size of [...this.handedOut]) if (size <= target) this.handedOut.delete(size);
      const note = this.parts.signedCheckpoint(target);
      if (stateFile !== undefined)
        await writeSignedState(stateFile, vkey, { size: target, root: tree.root(target) });
      await writeFileAtomic(join(dir, 'checkpoint'), note, true);
      this.known = { size: target, root: tree.root(target), exists: true, text: note };
      this.parts.signed(target);
      this.publishedSize = target;
    };
    await (stateLock === undefined ? publish() : stateLock.with(publish));
  }
}
