import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { logError } from './errors.js';
import { HASH_SIZE, hashLeaf, sameBytes } from './hash.js';
import { MAX_ENTRY_BYTES } from './tile-writer.js';

/** uint32 length || leaf hash, before each entry. */
export const RECORD_HEADER = 4 + HASH_SIZE;
const SCAN_WINDOW = 1 << 20;

/** Where a scan stopped before the end of the file, and why. */
export interface ScanStop {
  readonly offset: number;
  readonly reason: string;
}

/**
 * Replays write-ahead records from `start` up to `size`, reading the file in windows of at most
 * `scratch.length` bytes (the caller's buffer, reused), and stops at the first record that is
 * cut short, oversized, or fails its checksum (checked unless `verify` is false: a writer
 * catching up on records other live writers just appended leaves that to the publishing round,
 * which checks every entry once as it bundles it). Pushes the end of each valid record to
 * `ends` (one at a time: a log of millions of records is replayed in one call) and says where
 * and why it stopped. `onRecord` gets a view of the leaf hash, valid only during the call.
 */
export async function scanRecords(
  handle: FileHandle,
  start: number,
  size: number,
  scan: ScanTarget,
): Promise<ScanStop | undefined> {
  let position = start;
  for (;;) {
    if (size - position === 0) return undefined;
    if (size - position < RECORD_HEADER) return { offset: position, reason: 'cut short' };
    const window = windowFor(scan.scratch, size - position);
    await readFully(handle, window, position);
    const parsed = parseWindow(window, position, size, scan);
    if (parsed.stop !== undefined) return parsed.stop;
    position += parsed.consumed;
  }
}

/** `scanRecords` with synchronous reads, for a caller that must not yield (under the sequencer lock). */
export function scanRecordsSync(
  fd: number,
  start: number,
  size: number,
  scan: ScanTarget,
): ScanStop | undefined {
  let position = start;
  for (;;) {
    if (size - position === 0) return undefined;
    if (size - position < RECORD_HEADER) return { offset: position, reason: 'cut short' };
    const window = windowFor(scan.scratch, size - position);
    readFullySync(fd, window, position);
    const parsed = parseWindow(window, position, size, scan);
    if (parsed.stop !== undefined) return parsed.stop;
    position += parsed.consumed;
  }
}

/** Where a scan puts what it finds, and the buffer it reads through. */
export interface ScanTarget {
  /** Read buffer, reused across windows and calls (SCAN_WINDOW bytes is plenty). */
  readonly scratch: Buffer;
  /** Receives the end offset of each valid record. */
  readonly ends: number[];
  readonly onRecord: (leafHash: Uint8Array) => void;
  readonly verify: boolean;
}

/** A read buffer for a scan: SCAN_WINDOW bytes, allocated once per caller. */
export function scanScratch(): Buffer {
  return Buffer.allocUnsafe(SCAN_WINDOW);
}

function windowFor(scratch: Buffer, remaining: number): Buffer {
  return scratch.subarray(0, Math.min(scratch.length, remaining));
}

/**
 * Parses the whole records at the start of `window` (file bytes from `position`), pushing each
 * record's end to `scan.ends`; says how many bytes it consumed or where and why it stopped.
 */
function parseWindow(
  window: Buffer,
  position: number,
  size: number,
  scan: ScanTarget,
): { consumed: number; stop?: ScanStop } {
  let at = 0;
  while (at + RECORD_HEADER <= window.length) {
    const length = window.readUInt32BE(at);
    if (length > MAX_ENTRY_BYTES) {
      return {
        consumed: at,
        stop: { offset: position + at, reason: `its length ${length} is over ${MAX_ENTRY_BYTES}` },
      };
    }
    if (position + at + RECORD_HEADER + length > size) {
      return { consumed: at, stop: { offset: position + at, reason: 'cut short' } };
    }
    if (at + RECORD_HEADER + length > window.length) break; // continues in the next window
    const stored = window.subarray(at + 4, at + RECORD_HEADER);
    // Unverified, a record still may not carry an all-zero hash (no SHA-256 is): zeros are what
    // a power cut leaves, and must stop the scan as a torn tail, never read as empty records.
    const bad = scan.verify
      ? !sameBytes(hashLeaf(window.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length)), stored)
      : stored.every((byte) => byte === 0);
    if (bad) {
      return {
        consumed: at,
        stop: { offset: position + at, reason: 'its checksum (leaf hash) does not match its bytes' },
      };
    }
    scan.onRecord(stored);
    at += RECORD_HEADER + length;
    scan.ends.push(position + at);
  }
  if (at === 0) return { consumed: 0, stop: { offset: position, reason: 'cut short' } };
  return { consumed: at };
}

/**
 * Whether the bytes after the last whole record are what a crash leaves and nothing else:
 * one record cut short at the end of the file (kill -9 inside write(2)), or zeros (a power
 * cut after the file grew but before its pages were written). A record that is complete but
 * fails its checksum, a bad record followed by more data, or a "cut" record whose remaining
 * bytes do hash to its stored leaf hash (its length field was damaged) is damage, not a tear.
 */
export async function isTornTail(handle: FileHandle, end: number, size: number): Promise<boolean> {
  const rest = Buffer.alloc(size - end);
  await readFully(handle, rest, end);
  return isTornBytes(rest);
}

/** `isTornTail` of bytes already read. */
export function isTornBytes(rest: Buffer): boolean {
  if (rest.every((byte) => byte === 0)) return true;
  if (rest.length < 4) return true;
  const length = rest.readUInt32BE(0);
  if (length > MAX_ENTRY_BYTES) return false;
  if (RECORD_HEADER + length <= rest.length) return false;
  if (rest.length < RECORD_HEADER) return true;
  const stored = rest.subarray(4, RECORD_HEADER);
  return !sameBytes(hashLeaf(rest.subarray(RECORD_HEADER)), stored);
}

export async function readFully(handle: FileHandle, buffer: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesRead } = await handle.read(buffer, done, buffer.length - done, position + done);
    if (bytesRead === 0) throw logError('LOG_CORRUPT', 'the write-ahead log ended while reading');
    done += bytesRead;
  }
}

export function readFullySync(fd: number, buffer: Buffer, position: number): void {
  let done = 0;
  while (done < buffer.length) {
    const bytesRead = readSync(fd, buffer, done, buffer.length - done, position + done);
    if (bytesRead === 0) throw logError('LOG_CORRUPT', 'the write-ahead log ended while reading');
    done += bytesRead;
  }
}
