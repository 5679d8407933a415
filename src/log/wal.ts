import { constants, fstatSync, fsyncSync, ftruncateSync, writeFileSync, writeSync } from 'node:fs';
import { type FileHandle, link, open, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { syncDirectory } from './atomic-file.js';
import { logError } from './errors.js';
import { hashLeaf, sameBytes } from './hash.js';
import {
  isTornBytes,
  isTornTail,
  RECORD_HEADER,
  readFully,
  readFullySync,
  scanRecords,
  scanRecordsSync,
  scanScratch,
} from './wal-scan.js';

/**
 * The append-only write-ahead file: the log's source of truth. Everything else on disk
 * (tiles, bundles, checkpoint) is derived from it.
 *
 *   header:  "oacp-wal/v1\n" <origin> "\n"
 *   record:  uint32 BE length || SHA-256(0x00 || entry) || entry
 *
 * Several processes append to one file. Each keeps its own index of record positions and
 * catches up on the records others appended (`catchUp`) before writing; the caller holds the
 * home's sequencer lock around catch-up + write, so records never interleave. Readers catch
 * up without the lock and stop before a record still being written.
 */
const MAGIC = 'oacp-wal/v1';

export interface WalRecovery {
  /** Bytes of a torn tail moved aside (to `log.wal.torn-<offset>`) and cut from the file. */
  readonly truncatedBytes: number;
  /** Where those bytes were kept, when there were any. */
  readonly savedAs?: string;
}

/** What a catch-up found after the last whole record. */
export type WalTail =
  | { readonly kind: 'clean' }
  | { readonly kind: 'torn'; readonly offset: number; readonly bytes: number }
  | { readonly kind: 'corrupt'; readonly record: number; readonly offset: number; readonly reason: string };

export class WriteAheadLog {
  /** File offset of each record; positions[count] is the end of the last record. */
  private readonly positions: number[];
  /** Records in the file before this process's last completed fdatasync began. */
  private synced = 0;
  /** The fdatasync in flight and the records it covers (see `datasync`). */
  private syncing: { readonly upto: number; readonly done: Promise<void> } | undefined;
  /** The fdatasync that starts when the one in flight ends, shared by everyone waiting for it. */
  private nextSync: Promise<void> | undefined;
  /** The first fdatasync failure: every later one reports it (see `datasync`). */
  private syncFailure: { readonly error: unknown } | undefined;
  /** Read buffers of the (serialised) async catch-ups and of the locked synchronous one. */
  private readonly scratch = { async: scanScratch(), sync: scanScratch() };

  private constructor(
    /** Undefined for a reader of a log nothing was ever appended to: an empty log. */
    private readonly handle: FileHandle | undefined,
    private readonly path: string,
    headerLength: number,
  ) {
    this.positions = [headerLength];
  }

  /**
   * Opens the file (a writer creates it, header only, when it is missing) and checks its
   * header. Records are read by `catchUp`.
   */
  static async open(path: string, origin: string, writable: boolean): Promise<WriteAheadLog> {
    const header = new TextEncoder().encode(`${MAGIC}\n${origin}\n`);
    let handle: FileHandle | undefined;
    try {
      handle = writable ? await openOrCreate(path, header) : await openReadOnly(path);
    } catch (error) {
      throw logError(
        'LOG_FAILED',
        `cannot open the write-ahead log ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        error,
      );
    }
    if (handle === undefined) return new WriteAheadLog(undefined, path, header.length);
    try {
      // A directory, a device (a link to /dev/zero) or a FIFO in its place is damage, not a log
      // to read forever.
      if (!(await handle.stat()).isFile())
        throw logError(
          'LOG_CORRUPT',
          `the write-ahead log ${path} is not a regular file; nothing was changed`,
        );
      await checkHeader(handle, header, origin);
      return new WriteAheadLog(handle, path, header.length);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  get count(): number {
    return this.positions.length - 1;
  }

  /**
   * Replays the records appended since the last call (by this process or another) through
   * `onRecord`, in order, and says what follows the last whole record. Never changes the file.
   * `verify` false skips the checksums (see scanRecords): for a writer's catch-up only.
   * `onRecord` gets a view of each leaf hash, valid only during the call. Calls must not
   * overlap (the log serialises them).
   */
  async catchUp(onRecord: (leafHash: Uint8Array) => void, verify = true): Promise<WalTail> {
    if (this.handle === undefined) return { kind: 'clean' };
    const size = fstatSync(this.file.fd).size;
    const start = this.end;
    if (size < start) {
      throw logError(
        'LOG_CORRUPT',
        `log.wal shrank to ${size} bytes under its record ${this.count - 1}, which ended at byte ${start}`,
      );
    }
    const scan = { scratch: this.scratch.async, ends: this.positions, onRecord, verify };
    // What fits one read window (a writer's catch-up between its commits) is read with one
    // synchronous pread: cheaper than a thread-pool round trip. A large replay (opening a big
    // log) reads off the thread, window by window.
    const stop =
      size - start <= scan.scratch.length
        ? scanRecordsSync(this.file.fd, start, size, scan)
        : await scanRecords(this.file, start, size, scan);
    if (stop === undefined) return { kind: 'clean' };
    if (await isTornTail(this.file, this.end, size)) {
      return { kind: 'torn', offset: this.end, bytes: size - this.end };
    }
    return { kind: 'corrupt', record: this.count, offset: stop.offset, reason: stop.reason };
  }

  /**
   * `catchUp`, then (when the tail is torn) `cutTornTail`, then `append`, with synchronous
   * system calls: the sequencer lock's whole critical section, which must not yield to the
   * event loop (see FileLock.withSync). Records others appended go through `onRecord` first
   * (their checksums are left to the publishing round, as with `catchUp(…, false)`; the hash
   * is a view valid only during the call);
   * returns the tail it found (a corrupt one stops before writing), the batch's first index and,
   * when it cut a torn tail, what it cut.
   */
  appendLocked(
    entries: readonly Uint8Array[],
    leafHashes: readonly Uint8Array[],
    onRecord: (leafHash: Uint8Array) => void,
  ): { tail: WalTail; first: number; cut?: WalRecovery } {
    const fd = this.file.fd;
    const size = fstatSync(fd).size;
    const start = this.end;
    if (size < start) {
      throw logError(
        'LOG_CORRUPT',
        `log.wal shrank to ${size} bytes under its record ${this.count - 1}, which ended at byte ${start}`,
      );
    }
    const scan = { scratch: this.scratch.sync, ends: this.positions, onRecord, verify: false };
    const stop = scanRecordsSync(fd, start, size, scan);
    let tail: WalTail = { kind: 'clean' };
    let cut: WalRecovery | undefined;
    if (stop !== undefined) {
      const rest = Buffer.alloc(size - this.end);
      readFullySync(fd, rest, this.end);
      if (!isTornBytes(rest)) {
        const corrupt = {
          kind: 'corrupt',
          record: this.count,
          offset: stop.offset,
          reason: stop.reason,
        } as const;
        return { tail: corrupt, first: this.count };
      }
      // Under the lock a torn tail is a writer killed inside write(2): never acknowledged.
      tail = { kind: 'torn', offset: this.end, bytes: rest.length };
      cut = { truncatedBytes: rest.length };
      if (rest.some((byte) => byte !== 0)) {
        const savedAs = `${this.path}.torn-${this.end}`;
        writeFileSync(savedAs, rest, { flag: 'w' });
        cut = { ...cut, savedAs };
      }
      ftruncateSync(fd, this.end);
      fsyncSync(fd);
    }
    const first = this.count;
    const at = this.end;
    const { buffer, ends } = this.encode(entries, leafHashes);
    let written = 0;
    while (written < buffer.length) {
      written += writeSync(fd, buffer, written, buffer.length - written, at + written);
    }
    for (const end of ends) this.positions.push(at + end);
    return cut === undefined ? { tail, first } : { tail, first, cut };
  }

  /**
   * Cuts a torn tail (see `isTornTail`) after saving its bytes beside the file. Only the
   * holder of the sequencer lock may call this: then nobody is in the middle of a write.
   */
  async cutTornTail(tail: Extract<WalTail, { kind: 'torn' }>): Promise<string | undefined> {
    if (tail.offset !== this.end)
      throw logError('LOG_CORRUPT', 'a torn tail must start after the last record');
    const bytes = Buffer.alloc(tail.bytes);
    await readFully(this.file, bytes, tail.offset);
    let aside: string | undefined;
    if (bytes.some((byte) => byte !== 0)) {
      aside = `${this.path}.torn-${tail.offset}`;
      try {
        // Saved and synced before anything is cut: no byte leaves the log unless it is kept.
        await writeFile(aside, bytes, { flag: 'w', flush: true });
        await syncDirectory(dirname(aside));
      } catch (error) {
        throw logError(
          'LOG_FAILED',
          `cannot save the torn tail of log.wal (${tail.bytes} bytes at byte ${tail.offset}) to ${aside} before cutting it: ${(error as NodeJS.ErrnoException).code ?? String(error)}; nothing was cut (free some space and open the log again)`,
          error,
        );
      }
    }
    await this.file.truncate(tail.offset);
    await this.file.sync();
    return aside;
  }

  /**
   * Writes the entries as one write(2) after the last record. The caller holds the sequencer
   * lock and has caught up. Returns once the bytes are in the OS (they survive a crash of this
   * process, not a power cut); `datasync` makes them durable.
   */
  async append(entries: readonly Uint8Array[], leafHashes: readonly Uint8Array[]): Promise<void> {
    const { buffer, ends } = this.encode(entries, leafHashes);
    const start = this.end;
    let written = 0;
    while (written < buffer.length) {
      const { bytesWritten } = await this.file.write(
        buffer,
        written,
        buffer.length - written,
        start + written,
      );
      written += bytesWritten;
    }
    for (const end of ends) this.positions.push(start + end);
  }

  /** The records of a batch as one buffer, and where each record ends in it. */
  private encode(
    entries: readonly Uint8Array[],
    leafHashes: readonly Uint8Array[],
  ): { buffer: Buffer; ends: number[] } {
    const total = entries.reduce((sum, entry) => sum + RECORD_HEADER + entry.length, 0);
    const buffer = Buffer.allocUnsafe(total);
    const ends: number[] = [];
    let at = 0;
    entries.forEach((entry, i) => {
      buffer.writeUInt32BE(entry.length, at);
      buffer.set(leafHashes[i] ?? hashLeaf(entry), at + 4);
      buffer.set(entry, at + RECORD_HEADER);
      at += RECORD_HEADER + entry.length;
      ends.push(at);
    });
    return { buffer, ends };
  }

  /**
   * Resolves after an fdatasync that began once the first `need` records (all this process
   * knows of, by default) were in the file: every record in the file when an fdatasync begins,
   * whoever wrote it, is on stable storage after it. One fdatasync runs at a time; a caller
   * whose records it does not cover waits for the next one, which starts when it ends and
   * serves every such caller at once (so records written meanwhile never wait for more than
   * the one in flight and their own). After a failed fdatasync every later one fails too: the
   * kernel may have dropped the pages the failure left unwritten, so no later success proves
   * anything (the log must be reopened and checked).
   */
  datasync(need: number = this.count): Promise<void> {
    if (this.syncFailure !== undefined) return Promise.reject(this.syncFailure.error);
    if (need <= this.synced) return Promise.resolve();
    const current = this.syncing;
    if (current === undefined) return this.startSync();
    if (current.upto >= need) return current.done;
    this.nextSync ??= current.done.then(
      () => this.startNext(),
      () => this.startNext(),
    );
    return this.nextSync;
  }

  /**
   * The next fdatasync starts one turn of the event loop after the last one ended: the batch
   * that queued up meanwhile is written in that turn (GroupCommit stages it as soon as the
   * previous batch is answered), so it shares this fdatasync instead of waiting for another.
   */
  private async startNext(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.nextSync = undefined;
    return this.datasync();
  }

  private startSync(): Promise<void> {
    const upto = this.count;
    const done = this.file
      .datasync()
      .then(
        () => {
          this.synced = Math.max(this.synced, upto);
        },
        (error: unknown) => {
          this.syncFailure ??= { error };
          throw error;
        },
      )
      .finally(() => {
        if (this.syncing?.done === done) this.syncing = undefined;
      });
    this.syncing = { upto, done };
    return done;
  }

  /** How many records (from the first) are known to be on stable storage: see `datasync`. */
  get durableCount(): number {
    return this.synced;
  }

  /** The entries [start, end), read with one positional read. */
  async readEntries(start: number, end: number): Promise<Uint8Array[]> {
    if (start < 0 || end > this.count || start > end) {
      throw logError('LOG_OUT_OF_RANGE', `entries ${start}..${end} are not all in a log of ${this.count}`);
    }
    if (start === end) return [];
    const from = this.position(start);
    const bytes = Buffer.alloc(this.position(end) - from);
    await readFully(this.file, bytes, from);
    const entries: Uint8Array[] = [];
    for (let i = start; i < end; i += 1) {
      const offset = this.position(i) - from + RECORD_HEADER;
      entries.push(new Uint8Array(bytes.subarray(offset, this.position(i + 1) - from)));
    }
    return entries;
  }

  /** The entry lengths [start, end), from the record positions (no read). */
  entryLength(index: number): number {
    return this.position(index + 1) - this.position(index) - RECORD_HEADER;
  }

  async close(): Promise<void> {
    await this.handle?.close();
  }

  private get file(): FileHandle {
    if (this.handle === undefined) throw logError('LOG_CLOSED', 'the log is empty and open read-only');
    return this.handle;
  }

  private get end(): number {
    return this.position(this.count);
  }

  private position(i: number): number {
    const position = this.positions[i];
    if (position === undefined) throw logError('LOG_OUT_OF_RANGE', `record ${i} is not in the log`);
    return position;
  }
}

/**
 * A new file gets its header through a private temp file + fsync + link, so it never exists
 * half-written and two processes creating it at once end up with the same one.
 */
async function openOrCreate(path: string, header: Uint8Array): Promise<FileHandle> {
  try {
    // Non-blocking: a FIFO put in its place must not hang the open (the file is checked after).
    return await open(path, constants.O_RDWR | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const temp = `${path}.new.${process.pid}.${Date.now()}`;
  const created = await open(temp, 'wx');
  try {
    await created.writeFile(header);
    await created.sync();
  } finally {
    await created.close();
  }
  try {
    await link(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await syncDirectory(dirname(path));
  return open(path, constants.O_RDWR);
}

async function openReadOnly(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function checkHeader(handle: FileHandle, header: Uint8Array, origin: string): Promise<void> {
  const found = Buffer.alloc(header.length);
  const { bytesRead } = await handle.read(found, 0, header.length, 0);
  if (bytesRead === header.length && sameBytes(found, header)) return;
  const text = found.subarray(0, bytesRead).toString('utf8');
  if (text.startsWith(`${MAGIC}\n`)) {
    const other = text.slice(MAGIC.length + 1).split('\n')[0] ?? '';
    throw logError(
      'LOG_CORRUPT',
      `the write-ahead log belongs to a log whose origin starts "${other}", not "${origin}"`,
    );
  }
  throw logError('LOG_CORRUPT', 'the write-ahead log does not start with the oacp-wal/v1 header');
}
