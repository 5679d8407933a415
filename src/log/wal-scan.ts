import type { FileHandle } from 'node:fs/promises';
import { logError } from './errors.js';
import { HASH_SIZE, hashLeaf, sameBytes } from './hash.js';
import { MAX_ENTRY_BYTES } from './tile-writer.js';

/** uint32 length || leaf hash, before each entry. */
export const RECORD_HEADER = 4 + HASH_SIZE;
const SCAN_WINDOW = 1 << 20;

/**
 * Replays write-ahead records from `start`, reading the file in 1 MiB windows, and stops at
 * the first record that is cut short, oversized, or fails its checksum. Returns the start of
 * each valid record plus the end of the last one.
 */
export async function scanRecords(
  handle: FileHandle,
  start: number,
  size: number,
  onRecord: (leafHash: Uint8Array) => void,
): Promise<number[]> {
  const positions = [start];
  let window = Buffer.alloc(0);
  let windowStart = start;
  const bytesAt = async (position: number, length: number): Promise<Buffer> => {
    if (position < windowStart || position + length > windowStart + window.length) {
      window = Buffer.alloc(Math.min(Math.max(SCAN_WINDOW, length), size - position));
      windowStart = position;
      await readFully(handle, window, position);
    }
    return window.subarray(position - windowStart, position - windowStart + length);
  };
  let position = start;
  while (position + RECORD_HEADER <= size) {
    const head = await bytesAt(position, RECORD_HEADER);
    const length = head.readUInt32BE(0);
    if (length > MAX_ENTRY_BYTES || position + RECORD_HEADER + length > size) break;
    const stored = new Uint8Array(head.subarray(4, RECORD_HEADER));
    const entry = await bytesAt(position + RECORD_HEADER, length);
    if (!sameBytes(hashLeaf(entry), stored)) break;
    onRecord(stored);
    position += RECORD_HEADER + length;
    positions.push(position);
  }
  return positions;
}

export async function readFully(handle: FileHandle, buffer: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesRead } = await handle.read(buffer, done, buffer.length - done, position + done);
    if (bytesRead === 0) throw logError('LOG_CORRUPT', 'the write-ahead log ended while reading');
    done += bytesRead;
  }
}
