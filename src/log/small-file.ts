import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/** A checkpoint note with every cosignature a log keeps fits well within this. */
export const MAX_NOTE_FILE_BYTES = 1024 * 1024;

/** Why a small file of the log could not be read: absent, not a regular file, too large, or an I/O error. */
export type SmallFileRead =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'absent' }
  | { readonly kind: 'unreadable'; readonly reason: string; readonly cause?: unknown };

export type SmallFileBytes =
  | { readonly kind: 'bytes'; readonly bytes: Buffer }
  | { readonly kind: 'absent' }
  | { readonly kind: 'unreadable'; readonly reason: string; readonly cause?: unknown };

/**
 * Reads one of the log's small files (the checkpoint, the signed-size state) without ever
 * blocking on it: opened non-blocking (a FIFO put in its place does not hang the open), only a
 * regular file is read (not a directory, a device such as /dev/zero, a socket), and only up to
 * `maxBytes`. Never throws.
 */
export async function readSmallFile(path: string, maxBytes = MAX_NOTE_FILE_BYTES): Promise<SmallFileRead> {
  const read = await readSmallBytes(path, maxBytes);
  return read.kind === 'bytes' ? { kind: 'text', text: read.bytes.toString('utf8') } : read;
}

/** As `readSmallFile`, the bytes. */
export async function readSmallBytes(path: string, maxBytes: number): Promise<SmallFileBytes> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'absent' };
    return { kind: 'unreadable', reason: code ?? String(error), cause: error };
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return { kind: 'unreadable', reason: 'it is not a regular file' };
    if (stat.size > maxBytes)
      return { kind: 'unreadable', reason: `it is ${stat.size} bytes, more than the ${maxBytes} allowed` };
    const bytes = Buffer.alloc(stat.size);
    let read = 0;
    while (read < bytes.length) {
      const { bytesRead } = await handle.read(bytes, read, bytes.length - read, read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return { kind: 'bytes', bytes: bytes.subarray(0, read) };
  } catch (error) {
    return {
      kind: 'unreadable',
      reason: (error as NodeJS.ErrnoException).code ?? String(error),
      cause: error,
    };
  } finally {
    await handle.close().catch(() => undefined);
  }
}
