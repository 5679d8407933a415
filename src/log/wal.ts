import { constants } from 'node:fs';
import { type FileHandle, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { syncDirectory } from './atomic-file.js';
import { logError } from './errors.js';
import { hashLeaf, sameBytes } from './hash.js';
import { RECORD_HEADER, readFully, scanRecords } from './wal-scan.js';

/**
 * The append-only write-ahead file: the log's source of truth. Everything else on disk
 * (tiles, bundles, checkpoint) is derived from it.
 *
 *   header:  "oacp-wal/v1\n" <origin> "\n"
 *   record:  uint32 BE length || SHA-256(0x00 || entry) || entry
 *
 * The stored leaf hash doubles as the record checksum. A crash can only tear the records
 * of the last, unacknowledged write; on open the file is cut back to its last whole,
 * checksummed record.
 */
const MAGIC = 'oacp-wal/v1';

export interface WalRecovery {
  /** Bytes cut from the end of the file because they did not form a whole, valid record. */
  readonly truncatedBytes: number;
}

export class WriteAheadLog {
  /** File offset of each record; positions[count] is the end of the last record. */
  private readonly positions: number[];

  private constructor(
    private readonly handle: FileHandle,
    positions: number[],
  ) {
    this.positions = positions;
  }

  /**
   * Opens (creating if needed) the file and replays every valid record through `onRecord`
   * in order, truncating a torn tail.
   */
  static async open(
    path: string,
    origin: string,
    onRecord: (leafHash: Uint8Array) => void,
  ): Promise<{ wal: WriteAheadLog; recovery: WalRecovery }> {
    const header = new TextEncoder().encode(`${MAGIC}\n${origin}\n`);
    const handle = await openOrCreate(path, header);
    try {
      await checkHeader(handle, header, origin);
      const size = (await handle.stat()).size;
      const positions = await scanRecords(handle, header.length, size, onRecord);
      const end = positions[positions.length - 1] ?? header.length;
      if (end < size) {
        await handle.truncate(end);
        await handle.sync();
      }
      return { wal: new WriteAheadLog(handle, positions), recovery: { truncatedBytes: size - end } };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  get count(): number {
    return this.positions.length - 1;
  }

  /** Writes the entries as one write and returns once they are on stable storage (fdatasync). */
  async append(entries: readonly Uint8Array[], leafHashes: readonly Uint8Array[]): Promise<void> {
    const total = entries.reduce((sum, entry) => sum + RECORD_HEADER + entry.length, 0);
    const buffer = Buffer.allocUnsafe(total);
    const added: number[] = [];
    let at = 0;
    const start = this.end;
    entries.forEach((entry, i) => {
      buffer.writeUInt32BE(entry.length, at);
      buffer.set(leafHashes[i] ?? hashLeaf(entry), at + 4);
      buffer.set(entry, at + RECORD_HEADER);
      at += RECORD_HEADER + entry.length;
      added.push(start + at);
    });
    let written = 0;
    while (written < total) {
      const { bytesWritten } = await this.handle.write(buffer, written, total - written, start + written);
      written += bytesWritten;
    }
    await this.handle.datasync();
    this.positions.push(...added);
  }

  /** The entries [start, end), read with one positional read. */
  async readEntries(start: number, end: number): Promise<Uint8Array[]> {
    if (start < 0 || end > this.count || start > end) {
      throw logError('LOG_OUT_OF_RANGE', `entries ${start}..${end} are not all in a log of ${this.count}`);
    }
    if (start === end) return [];
    const from = this.position(start);
    const bytes = Buffer.alloc(this.position(end) - from);
    await readFully(this.handle, bytes, from);
    const entries: Uint8Array[] = [];
    for (let i = start; i < end; i += 1) {
      const offset = this.position(i) - from + RECORD_HEADER;
      entries.push(new Uint8Array(bytes.subarray(offset, this.position(i + 1) - from)));
    }
    return entries;
  }

  async close(): Promise<void> {
    await this.handle.close();
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

/** A new file gets its header through temp + fsync + rename, so it never exists half-written. */
async function openOrCreate(path: string, header: Uint8Array): Promise<FileHandle> {
  try {
    return await open(path, constants.O_RDWR);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const temp = `${path}.new`;
  const created = await open(temp, 'w');
  try {
    await created.writeFile(header);
    await created.sync();
  } finally {
    await created.close();
  }
  await rename(temp, path);
  await syncDirectory(dirname(path));
  return open(path, constants.O_RDWR);
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
