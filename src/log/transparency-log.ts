import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Signer } from '../core/ed25519.js';
import { signCheckpoint } from './checkpoint.js';
import { DerivedFiles } from './derived-files.js';
import { logError } from './errors.js';
import { GroupCommit } from './group-commit.js';
import { hashLeaf } from './hash.js';
import { DirectoryLock } from './lock.js';
import { MerkleTree } from './merkle-tree.js';
import { isValidKeyName } from './note-format.js';
import { ed25519NoteSigner, formatVerifierKey, type NoteSigner, SIG_TYPE_ED25519 } from './note-keys.js';
import { readPublished } from './published-checkpoint.js';
import { MAX_ENTRY_BYTES } from './tile-writer.js';
import { formatTlogProof } from './tlog-proof.js';
import { type WalRecovery, WriteAheadLog } from './wal.js';

export interface TransparencyLogOptions {
  /** The checkpoint origin and the log key's name, e.g. "oacp.example/receipts". */
  readonly origin: string;
  /** The log's Ed25519 key; checkpoints are signed notes by it. */
  readonly signer: Signer;
}

export const WAL_FILE = 'log.wal';
export const LOCK_FILE = 'log.lock';
export const CHECKPOINT_FILE = 'checkpoint';

/**
 * A durable, append-only Merkle log of receipts, stored as c2sp.org/tlog-tiles so the
 * directory can be served by any static file server and checked by any tlog client.
 * `append` resolves only once the entry is fsynced in the write-ahead file; concurrent
 * appends share one write and one fsync.
 */
export class TransparencyLog {
  private readonly commits: GroupCommit<Uint8Array, { index: number }>;
  private readonly derived: DerivedFiles;
  private cached: { size: number; note: string } | undefined;
  private failure: unknown;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly origin: string,
    private readonly noteSigner: NoteSigner,
    private readonly publicKey: Uint8Array,
    private readonly wal: WriteAheadLog,
    private readonly tree: MerkleTree,
    private readonly lock: DirectoryLock,
    dir: string,
    published: { size: number; exists: boolean },
    readonly recovery: WalRecovery,
  ) {
    this.commits = new GroupCommit((entries) => this.commit(entries));
    this.derived = new DerivedFiles(
      dir,
      tree,
      (start, end) => wal.readEntries(start, end),
      (size) => this.signedCheckpoint(size),
      published.size,
      published.exists,
    );
  }

  /**
   * Opens the log in `dir`, creating it if empty: takes the directory lock, replays the
   * write-ahead file (cutting a torn tail), checks it against the published checkpoint,
   * and rewrites any tiles and checkpoint that fell behind.
   */
  static async open(dir: string, options: TransparencyLogOptions): Promise<TransparencyLog> {
    const signer: unknown = options?.signer;
    if (
      typeof signer !== 'object' ||
      signer === null ||
      !((signer as Signer).publicKey instanceof Uint8Array) ||
      typeof (signer as Signer).sign !== 'function'
    ) {
      throw logError('LOG_MALFORMED_VKEY', 'the log needs an Ed25519 signer');
    }
    if (typeof dir !== 'string' || typeof options.origin !== 'string' || !isValidKeyName(options.origin)) {
      throw logError('LOG_MALFORMED_CHECKPOINT', 'the origin must be non-empty with no spaces or "+"');
    }
    const noteSigner = ed25519NoteSigner(options.origin, options.signer);
    await mkdir(dir, { recursive: true });
    const lock = await DirectoryLock.acquire(join(dir, LOCK_FILE));
    let wal: WriteAheadLog | undefined;
    try {
      const tree = new MerkleTree();
      const opened = await WriteAheadLog.open(join(dir, WAL_FILE), options.origin, (hash) => tree.push(hash));
      wal = opened.wal;
      const vkey = formatVerifierKey(options.origin, SIG_TYPE_ED25519, options.signer.publicKey);
      const published = await readPublished(join(dir, CHECKPOINT_FILE), vkey, tree);
      const log = new TransparencyLog(
        options.origin,
        noteSigner,
        options.signer.publicKey,
        opened.wal,
        tree,
        lock,
        dir,
        published,
        opened.recovery,
      );
      await log.derived.settle();
      return log;
    } catch (error) {
      await wal?.close();
      await lock.release();
      throw error;
    }
  }

  /** The number of committed (fsynced) entries. */
  get size(): number {
    return this.tree.size;
  }

  /** Commits (write + fsync rounds) since open; fewer than appends when group commit batched them. */
  get commitCount(): number {
    return this.commits.commitCount;
  }

  /** The log's signed-note verifier key, `origin+keyid+base64(0x01||key)`, for verifiers. */
  get verifierKey(): string {
    return formatVerifierKey(this.origin, SIG_TYPE_ED25519, this.publicKey);
  }

  /** Appends one entry (e.g. a DSSE envelope's exact JSON bytes); resolves once it is fsynced. */
  append(entry: Uint8Array): Promise<{ index: number }> {
    if (!(entry instanceof Uint8Array))
      return Promise.reject(logError('LOG_OUT_OF_RANGE', 'an entry is a byte array'));
    if (entry.length > MAX_ENTRY_BYTES) {
      return Promise.reject(
        logError(
          'LOG_ENTRY_TOO_LARGE',
          `an entry is at most ${MAX_ENTRY_BYTES} bytes (tlog-tiles bundles), got ${entry.length}`,
        ),
      );
    }
    if (this.closing !== undefined) return Promise.reject(logError('LOG_CLOSED', 'the log is closed'));
    return this.commits.submit(entry.slice());
  }

  async entry(index: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.size) {
      throw logError('LOG_OUT_OF_RANGE', `index ${index} is not below the log size ${this.size}`);
    }
    const [entry] = await this.wal.readEntries(index, index + 1);
    if (entry === undefined) throw logError('LOG_CORRUPT', `entry ${index} could not be read`);
    return entry;
  }

  root(size: number = this.size): Uint8Array {
    return this.tree.root(size);
  }

  /** The signed checkpoint note for the current size (signed once per size). */
  checkpoint(): string {
    return this.signedCheckpoint(this.size);
  }

  inclusionProof(index: number, treeSize: number = this.size): Uint8Array[] {
    return this.tree.inclusionProof(index, treeSize);
  }

  consistencyProof(oldSize: number, newSize: number = this.size): Uint8Array[] {
    return this.tree.consistencyProof(oldSize, newSize);
  }

  /** A c2sp.org/tlog-proof@v1 file for entry `index` against the latest checkpoint. */
  proofFile(index: number, extra?: Uint8Array): string {
    const size = this.size;
    const proof = this.tree.inclusionProof(index, size);
    const checkpoint = this.signedCheckpoint(size);
    return formatTlogProof(
      extra === undefined ? { index, proof, checkpoint } : { extra, index, proof, checkpoint },
    );
  }

  /** Waits until every append so far is committed and the served files show it. */
  async sync(): Promise<void> {
    await this.commits.idle();
    await this.derived.settle();
  }

  /** Finishes pending appends, brings the served files up to date, releases the lock. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.commits.idle();
        if (this.failure === undefined) await this.derived.settle();
      } finally {
        await this.wal.close();
        await this.lock.release();
      }
    })();
    return this.closing;
  }

  private async commit(entries: Uint8Array[]): Promise<Array<{ index: number }>> {
    if (this.failure !== undefined) {
      throw logError('LOG_FAILED', 'an earlier write to the log failed; reopen it to recover', this.failure);
    }
    const hashes = entries.map(hashLeaf);
    try {
      await this.wal.append(entries, hashes);
    } catch (error) {
      // After a failed write or fsync the file's state is unknown: stop, and let reopening recover.
      this.failure = error;
      throw logError('LOG_FAILED', 'could not write and sync the log; reopen it to recover', error);
    }
    const first = this.tree.size;
    for (const hash of hashes) this.tree.push(hash);
    this.derived.request();
    return entries.map((_, i) => ({ index: first + i }));
  }

  private signedCheckpoint(size: number): string {
    if (this.cached?.size !== size) {
      const note = signCheckpoint(
        { origin: this.origin, size, root: this.tree.root(size), extensions: [] },
        this.noteSigner,
      );
      this.cached = { size, note };
      this.derived.checkpointIssued(size);
    }
    return this.cached.note;
  }
}
