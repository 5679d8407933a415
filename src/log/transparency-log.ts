import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Signer } from '../core/ed25519.js';
import { signCheckpoint } from './checkpoint.js';
import { DerivedFiles } from './derived-files.js';
import { type LogError, logError } from './errors.js';
import { FileLock } from './file-lock.js';
import { GroupCommit, type Staged } from './group-commit.js';
import { hashLeaf } from './hash.js';
import { TILE_WIDTH } from './hash-level.js';
import { MerkleTree } from './merkle-tree.js';
import { isValidKeyName } from './note-format.js';
import { ed25519NoteSigner, formatVerifierKey, type NoteSigner, SIG_TYPE_ED25519 } from './note-keys.js';
import { checkExtends, type PublishedCheckpoint, readPublished } from './published-checkpoint.js';
import { openSignedStateLock, readSignedState, type SignedTree, writeSignedState } from './signed-state.js';
import { checkServedTile, checkTiles } from './tile-check.js';
import { entriesPath, parseTilePath, type TileAddress, tilePath } from './tile-path.js';
import { MAX_ENTRY_BYTES } from './tile-writer.js';
import { formatTlogProof } from './tlog-proof.js';
import { type WalRecovery, type WalTail, WriteAheadLog } from './wal.js';

export interface TransparencyLogOptions {
  /** The checkpoint origin and the log key's name, e.g. "oacp.example/receipts". */
  readonly origin: string;
  /** The log's Ed25519 key; checkpoints are signed notes by it. */
  readonly signer: Signer;
  /** Read only: never writes a byte (no appends, no tiles, no tail repair); for list/show/export. */
  readonly readOnly?: boolean;
  /**
   * A file outside the log directory remembering the largest tree this key published
   * (see signed-state.ts); the log refuses to open if it cannot extend it. Undefined: none.
   */
  readonly stateFile?: string;
  /**
   * Told when an append found a torn tail and cut it (moved aside to `log.wal.torn-<offset>`):
   * another process was killed inside write(2) while this one had the log open, as `recovery`
   * says of one found at open. Called after the append; whatever it throws is ignored.
   */
  readonly onTornTail?: (cut: WalRecovery) => void;
}

/**
 * When `append` answers: `durable` after fdatasync; `written` once the record is written to
 * the OS (write(2) returned): it then survives a crash of this process, not a power cut.
 */
export type AppendAck = 'durable' | 'written';

/** What a tile on disk is worth serving: as it is, as absent (404), or refused as damage. */
export type ServedTile = 'ok' | 'not-found' | { readonly damaged: string };

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export const WAL_FILE = 'log.wal';
/** flock'ed by a writer around catch-up + write of one batch: the home's sequencer. */
export const LOCK_FILE = 'log.lock';
/** flock'ed around one round of writing tiles and the checkpoint. */
export const PUBLISH_LOCK_FILE = 'publish.lock';
export const CHECKPOINT_FILE = 'checkpoint';

interface Pending {
  readonly entry: Uint8Array;
  readonly written?: (index: number) => void;
}

/**
 * A durable, append-only Merkle log of receipts, stored as c2sp.org/tlog-tiles so the
 * directory can be served by any static file server and checked by any tlog client.
 * Any number of processes may open one directory: appends take the sequencer lock only to
 * catch up on others' records and write their own batch, fsync outside it, and readers
 * take no lock at all.
 */
export class TransparencyLog {
  private readonly commits: GroupCommit<Pending, { index: number }>;
  private readonly derived: DerivedFiles | undefined;
  private cached: { size: number; note: string } | undefined;
  private failure: unknown;
  private closing: Promise<void> | undefined;
  /** Orders this process's catch-ups and writes, so no record is replayed twice. */
  private serial: Promise<unknown> = Promise.resolve();
  /** The largest size known to be signed for this key: nothing smaller is ever signed. */
  private signedFloor: number;
  /** The signed-size state's lock; a read-only log opens it when it first signs a new size. */
  private stateLock: Promise<FileLock> | undefined;
  /** The largest size this process recorded in the signed-size state before signing it. */
  private recordedSize = 0;
  private truncated: WalRecovery = { truncatedBytes: 0 };
  /** TransparencyLogOptions.onTornTail. */
  private onTornTail: ((cut: WalRecovery) => void) | undefined;

  private constructor(
    private readonly origin: string,
    private readonly noteSigner: NoteSigner,
    private readonly publicKey: Uint8Array,
    private readonly wal: WriteAheadLog,
    private readonly tree: MerkleTree,
    private readonly locks: { sequencer: FileLock; publisher: FileLock } | undefined,
    private readonly dir: string,
    published: PublishedCheckpoint,
    floor: number,
    private readonly stateFile: string | undefined,
    stateLock: FileLock | undefined,
  ) {
    this.stateLock = stateLock === undefined ? undefined : Promise.resolve(stateLock);
    this.signedFloor = floor;
    this.commits = new GroupCommit({ stage: (items) => this.write(items) });
    this.derived =
      locks === undefined
        ? undefined
        : new DerivedFiles(
            {
              dir,
              vkey: this.verifierKey,
              tree,
              readEntries: (start, end) => wal.readEntries(start, end),
              signedCheckpoint: (size) => this.signedCheckpoint(size),
              lock: locks.publisher,
              refresh: () => this.refresh(),
              datasync: () => wal.datasync(),
              durableSize: () => wal.durableCount,
              stateFile,
              stateLock,
              signed: (size) => {
                this.signedFloor = Math.max(this.signedFloor, size);
              },
            },
            published.size,
          );
  }

  /**
   * Opens the log in `dir`, creating it if empty (unless read-only). Verifies the write-ahead
   * log record by record, against the published checkpoint, the outside signed-size state
   * and the tiles; refuses any damage with LOG_CORRUPT (or LOG_FORK) without changing a byte.
   * The one repair is a torn tail a crash left after the last whole record, which no signed
   * checkpoint covers: it is moved aside to `log.wal.torn-<offset>`.
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
    const readOnly = options.readOnly === true;
    const noteSigner = ed25519NoteSigner(options.origin, options.signer);
    const vkey = formatVerifierKey(options.origin, SIG_TYPE_ED25519, options.signer.publicKey);
    if (!readOnly) await mkdir(dir, { recursive: true });
    const opened: {
      wal?: WriteAheadLog;
      locks?: { sequencer: FileLock; publisher: FileLock };
      stateLock?: FileLock;
    } = {};
    try {
      if (!readOnly) {
        opened.locks = {
          sequencer: await FileLock.open(join(dir, LOCK_FILE)),
          publisher: await FileLock.open(join(dir, PUBLISH_LOCK_FILE)),
        };
        if (options.stateFile !== undefined) opened.stateLock = await openSignedStateLock(options.stateFile);
      }
      // The signed trees first, the records after: whatever they cover is already in the file.
      const published = await readPublished(join(dir, CHECKPOINT_FILE), vkey);
      const state =
        options.stateFile === undefined ? undefined : await readSignedState(options.stateFile, vkey);
      const tree = new MerkleTree();
      const wal = await WriteAheadLog.open(join(dir, WAL_FILE), options.origin, !readOnly);
      opened.wal = wal;
      // Most of the file is replayed (and checked) before taking the lock, as a reader would, so
      // a writer opening a large log holds up the other writers only for what landed meanwhile.
      if (opened.locks !== undefined) await wal.catchUp((hash) => tree.push(hash));
      const replay = async (): Promise<{ wal: WriteAheadLog; tail: WalTail; truncated: WalRecovery }> => {
        const tail = await wal.catchUp((hash) => tree.push(hash));
        refuseCorrupt(tail);
        checkExtends(tree, published, 'the published checkpoint', 'LOG_CORRUPT');
        if (state !== undefined)
          checkExtends(tree, state, `the signed-size state ${options.stateFile}`, 'LOG_FORK');
        // Under the sequencer lock nobody is writing: a torn tail is a dead writer's, never
        // acknowledged (acks come after write(2) returned), and past every signed size.
        if (tail.kind === 'torn' && opened.locks !== undefined) {
          const savedAs = await wal.cutTornTail(tail);
          return {
            wal,
            tail,
            truncated: { truncatedBytes: tail.bytes, ...(savedAs === undefined ? {} : { savedAs }) },
          };
        }
        return { wal, tail, truncated: { truncatedBytes: 0 } };
      };
      const { truncated } =
        opened.locks === undefined ? await replay() : await opened.locks.sequencer.with(replay);
      const problem = await checkTiles(
        dir,
        { tree, entryLength: (i) => wal.entryLength(i) },
        published.size,
        false,
      );
      if (problem !== undefined) {
        throw logError(
          'LOG_CORRUPT',
          `${problem.path} is ${problem.reason} (the checkpoint covers ${published.size} entries); nothing was changed: \`oacp log fsck --repair\` rewrites tiles from the verified write-ahead log`,
        );
      }
      const log = new TransparencyLog(
        options.origin,
        noteSigner,
        options.signer.publicKey,
        wal,
        tree,
        opened.locks,
        dir,
        published,
        Math.max(published.size, signedSize(state)),
        options.stateFile,
        opened.stateLock,
      );
      log.truncated = truncated;
      log.onTornTail = options.onTornTail;
      await log.derived?.settle();
      return log;
    } catch (error) {
      await opened.wal?.close();
      await opened.locks?.sequencer.close();
      await opened.locks?.publisher.close();
      await opened.stateLock?.close();
      throw error;
    }
  }

  /** What opening repaired: the bytes of a torn tail moved aside. */
  get recovery(): WalRecovery {
    return this.truncated;
  }

  /** The number of entries this process knows of (its own appends and others' it caught up on). */
  get size(): number {
    return this.tree.size;
  }

  /**
   * Entries known to be on stable storage: covered by this process's last fdatasync, or by a
   * checkpoint already signed for this key. Nothing past it is ever signed.
   */
  get durableSize(): number {
    return Math.max(this.wal.durableCount, this.signedFloor);
  }

  /** Batches written since open (each one write(2)); fewer than appends when group commit batched them. */
  get commitCount(): number {
    return this.commits.commitCount;
  }

  /** The log's signed-note verifier key, `origin+keyid+base64(0x01||key)`, for verifiers. */
  get verifierKey(): string {
    return formatVerifierKey(this.origin, SIG_TYPE_ED25519, this.publicKey);
  }

  /**
   * Appends one entry (e.g. a DSSE envelope's exact JSON bytes). Resolves with its index once
   * it is fsynced (`durable`, the default) or written to the OS (`written`); an index is
   * handed out once, under the home's sequencer lock, whichever process appends. `written`,
   * when given, is called as soon as the entry is written to the OS (it then survives the
   * death of any process), before the fsync.
   */
  append(
    entry: Uint8Array,
    options: { ack?: AppendAck; written?: (index: number) => void } = {},
  ): Promise<{ index: number }> {
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
    if (this.locks === undefined)
      return Promise.reject(logError('LOG_CLOSED', 'the log was opened read-only'));
    const written = options.written;
    if (options.ack !== 'written') {
      return this.commits.submit(
        written === undefined ? { entry: entry.slice() } : { entry: entry.slice(), written },
      );
    }
    return new Promise((resolve, reject) => {
      this.commits
        .submit({
          entry: entry.slice(),
          written: (index) => {
            written?.(index);
            resolve({ index });
          },
        })
        .catch(reject);
    });
  }

  /**
   * Catches up on records other processes appended (never changes the file). Readers call it
   * to see new entries; writers do it under the sequencer lock before every write.
   */
  refresh(): Promise<void> {
    return this.serially(async () => {
      refuseCorrupt(await this.wal.catchUp((hash) => this.tree.push(hash)));
    });
  }

  async entry(index: number): Promise<Uint8Array> {
    if (Number.isSafeInteger(index) && index >= this.size) await this.refresh();
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.size) {
      throw logError('LOG_OUT_OF_RANGE', `index ${index} is not below the log size ${this.size}`);
    }
    const [entry] = await this.wal.readEntries(index, index + 1);
    if (entry === undefined) throw logError('LOG_CORRUPT', `entry ${index} could not be read`);
    return entry;
  }

  /**
   * Checks a tile read from the log directory before it is served (cut short, altered or
   * deleted while serving): 'ok', 'not-found' for a tile no published tree needs yet (or a
   * partial tile its full tile replaced), or the damage. A tile past this process's tree is
   * checked after catching up on other writers' records.
   */
  async checkTile(path: string, bytes: Uint8Array | undefined): Promise<ServedTile> {
    const address = parseTilePath(path);
    if (address === undefined) return 'not-found';
    if (bytes === undefined) return this.absentTile(address);
    const source = { tree: this.tree, entryLength: (i: number) => this.wal.entryLength(i) };
    let problem = checkServedTile(source, address, bytes);
    if (problem === 'beyond') {
      await this.refresh();
      problem = checkServedTile(source, address, bytes);
    }
    if (problem === undefined) return 'ok';
    return { damaged: problem === 'beyond' ? 'it lies beyond every record of the write-ahead log' : problem };
  }

  /** A tile that is not on disk is damage when the published checkpoint needs it. */
  private async absentTile(address: TileAddress): Promise<ServedTile> {
    const published = await readPublished(join(this.dir, CHECKPOINT_FILE), this.verifierKey);
    const unit = address.level === 'entries' ? 1 : TILE_WIDTH ** address.level;
    const end = (address.n * TILE_WIDTH + address.width) * unit;
    if (end > published.size) return 'not-found';
    // Of the partial tiles, the spec requires only those of sizes a checkpoint was made for; the
    // one the published checkpoint needs is the one it can be checked for (any other width a
    // client makes up is an ordinary 404, not a security event).
    const needed = Math.floor(published.size / unit) - address.n * TILE_WIDTH;
    if (address.width < TILE_WIDTH && address.width !== needed) return 'not-found';
    if (address.width < TILE_WIDTH) {
      const full =
        address.level === 'entries'
          ? entriesPath(address.n, TILE_WIDTH)
          : tilePath(address.level, address.n, TILE_WIDTH);
      if (await exists(join(this.dir, full))) return 'not-found';
    }
    return { damaged: `missing, though the published checkpoint of ${published.size} entries needs it` };
  }

  root(size: number = this.size): Uint8Array {
    return this.tree.root(size);
  }

  /**
   * The signed checkpoint note for the current size (signed once per size). The write-ahead log
   * is fdatasynced first when this process does not know every record of that size to be on
   * stable storage: a signed tree that a power cut could shrink would be a fork of our own making.
   */
  async checkpoint(): Promise<string> {
    const size = await this.madeDurable();
    await this.recorded(size);
    return this.signedCheckpoint(size);
  }

  inclusionProof(index: number, treeSize: number = this.size): Uint8Array[] {
    return this.tree.inclusionProof(index, treeSize);
  }

  consistencyProof(oldSize: number, newSize: number = this.size): Uint8Array[] {
    return this.tree.consistencyProof(oldSize, newSize);
  }

  /**
   * A c2sp.org/tlog-proof@v1 file for entry `index` against the latest checkpoint (made durable
   * first, as `checkpoint` does).
   */
  async proofFile(index: number, extra?: Uint8Array): Promise<string> {
    const size = this.size;
    const proof = this.tree.inclusionProof(index, size);
    await this.recorded(await this.madeDurable(size));
    const checkpoint = this.signedCheckpoint(size);
    return formatTlogProof(
      extra === undefined ? { index, proof, checkpoint } : { extra, index, proof, checkpoint },
    );
  }

  /** Waits until every append so far is committed and the served files show it. */
  async sync(): Promise<void> {
    await this.commits.idle();
    await this.derived?.settle();
  }

  /** Finishes pending appends, brings the served files up to date, releases the files. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.commits.idle();
        if (this.failure === undefined) await this.derived?.settle();
      } finally {
        this.derived?.stop();
        await this.wal.close();
        await this.locks?.sequencer.close();
        await this.locks?.publisher.close();
        await this.stateLock?.then((lock) => lock.close()).catch(() => undefined);
      }
    })();
    return this.closing;
  }

  private serially<T>(run: () => Promise<T>): Promise<T> {
    const result = this.serial.then(run);
    this.serial = result.catch(() => undefined);
    return result;
  }

  /** Says a torn tail cut while running (see TransparencyLogOptions.onTornTail); a listener's fault is not the append's. */
  private tellTornTail(cut: WalRecovery): void {
    try {
      this.onTornTail?.(cut);
    } catch {
      // The cut is made and the append goes on: a listener that failed only could not say it.
    }
  }

  /**
   * Writes one batch (under the sequencer lock) and hands back when its callers may be told it
   * is durable: after an fdatasync that began once the batch was written. The next batch is
   * written while that fdatasync runs (GroupCommit's pipelining); file order is still tree order,
   * since writes stay one at a time, and nothing is published or signed past what was synced.
   */
  private async write(items: Pending[]): Promise<Staged<{ index: number }>> {
    const fatal = this.failure ?? this.derived?.fatal;
    if (fatal !== undefined) {
      throw logError('LOG_FAILED', 'an earlier write to the log failed or found damage; reopen it', fatal);
    }
    const locks = this.locks;
    if (locks === undefined) throw logError('LOG_CLOSED', 'the log was opened read-only');
    const entries = items.map((item) => item.entry);
    const hashes = entries.map(hashLeaf);
    let first: number;
    try {
      first = await this.serially(async () => {
        // Others' records first, without the lock (as a reader): the locked catch-up is then
        // only what landed in the last moments, and the lock is held for microseconds.
        refuseCorrupt(await this.wal.catchUp((hash) => this.tree.push(hash), false));
        const written = await locks.sequencer.withSync(() =>
          this.wal.appendLocked(entries, hashes, (hash) => this.tree.push(hash)),
        );
        refuseCorrupt(written.tail);
        for (const hash of hashes) this.tree.push(hash);
        if (written.cut !== undefined) this.tellTornTail(written.cut);
        return written.first;
      });
    } catch (error) {
      // After a failed write the file's state is unknown: stop, and let reopening verify it.
      this.failure = error;
      if ((error as LogError).code === 'LOG_CORRUPT') throw error;
      throw logError('LOG_FAILED', 'could not write to the log; reopen it to recover', error);
    }
    items.forEach((item, i) => {
      item.written?.(first + i);
    });
    return { done: this.synced(first, items.length) };
  }

  /** The indices of a batch written at `first`, once an fdatasync that began after it ended. */
  private async synced(first: number, count: number): Promise<Array<{ index: number }>> {
    try {
      await this.wal.datasync(first + count);
    } catch (error) {
      this.failure ??= error;
      throw logError('LOG_FAILED', 'could not sync the log; reopen it to recover', error);
    }
    this.derived?.appended(first + count);
    return Array.from({ length: count }, (_, i) => ({ index: first + i }));
  }

  /**
   * `size` (the tree's by default) once every record of it is known to be on stable storage:
   * fdatasync when this process's last one did not cover them (it covers every record in the
   * file when it began, whoever wrote them, and the tree never runs ahead of the file).
   */
  private async madeDurable(size: number = this.size): Promise<number> {
    if (size > this.durableSize) {
      try {
        await this.wal.datasync(size);
      } catch (error) {
        throw logError('LOG_FAILED', 'could not sync the log before signing a checkpoint', error);
      }
    }
    return size;
  }

  /**
   * Before a size past the signed floor is signed outside a publishing round, it is recorded
   * in the signed-size state under the state's lock, once its tree is checked to extend the
   * state: a copy of this home on this machine that signed another root there stops this one
   * (LOG_FORK) before it signs, instead of both handing out a signature for one size.
   */
  private async recorded(size: number): Promise<void> {
    const { stateFile } = this;
    if (stateFile === undefined || size <= Math.max(this.signedFloor, this.recordedSize)) return;
    // A read-only log (list, export, checkpoint beside a running writer) writes nothing in the
    // home, but what it signs is recorded like any signature: it takes the state's lock then.
    this.stateLock ??= openSignedStateLock(stateFile);
    await (await this.stateLock).with(async () => {
      const state = await readSignedState(stateFile, this.verifierKey);
      if (state !== undefined) {
        // Another writer of this home may have published past what this process has read.
        if (state.size > this.tree.size) await this.refresh();
        checkExtends(this.tree, state, `the signed-size state ${stateFile}`, 'LOG_FORK');
      }
      if (state === undefined || state.size < size)
        await writeSignedState(stateFile, this.verifierKey, { size, root: this.tree.root(size) });
    });
    this.recordedSize = Math.max(this.recordedSize, size);
  }

  /**
   * Every signature over this log's tree is made here. It signs only a durable size (covered by
   * this process's last fdatasync, or already signed, which was durable then) and never one
   * smaller than a size already signed.
   */
  private signedCheckpoint(size: number): string {
    if (size < this.signedFloor) {
      throw logError(
        'LOG_FORK',
        `refusing to sign a tree of ${size} entries: this log key already signed ${this.signedFloor}`,
      );
    }
    if (size > this.durableSize) {
      throw logError(
        'LOG_FAILED',
        `refusing to sign a tree of ${size} entries: only ${this.durableSize} are known to be on stable storage`,
      );
    }
    if (this.cached?.size !== size) {
      const note = signCheckpoint(
        { origin: this.origin, size, root: this.tree.root(size), extensions: [] },
        this.noteSigner,
      );
      this.cached = { size, note };
      this.derived?.checkpointIssued(size);
    }
    return this.cached.note;
  }
}

function signedSize(state: SignedTree | undefined): number {
  return state?.size ?? 0;
}

function refuseCorrupt(tail: WalTail): void {
  if (tail.kind !== 'corrupt') return;
  throw logError(
    'LOG_CORRUPT',
    `log.wal record ${tail.record} (byte ${tail.offset}) is damaged: ${tail.reason}; nothing was changed (see \`oacp log fsck\`)`,
  );
}
