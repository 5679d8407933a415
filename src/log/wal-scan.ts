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
  let position = start;
  for (;;) {
    // Load a window starting at the next record, then parse whole records from it without awaiting.
    const window = Buffer.alloc(Math.min(SCAN_WINDOW, size - position));
    if (window.length < RECORD_HEADER) break;
    await readFully(handle, window, position);
    let at = 0;
    let cut = false;
    while (at + RECORD_HEADER <= window.length) {
      const length = window.readUInt32BE(at);
      if (length > MAX_ENTRY_BYTES || position + at + RECORD_HEADER + length > size) {
        cut = true;
        break;
      }
      if (at + RECORD_HEADER + length > window.length) break; // continues in the next window
      const stored = window.subarray(at + 4, at + RECORD_HEADER);
      if (!sameBytes(hashLeaf(window.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length)), stored)) {
        cut = true;
        break;
      }
      onRecord(new Uint8Array(stored));
      at += RECORD_HEADER + length;
      positions.push(position + at);
    }
    if (cut || at === 0) break;
    position += at;
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
