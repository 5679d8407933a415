import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/**
 * The most OACP reads of a file a user names as input: a receipt, proof,
 * key, checkpoint, config, manifest, policy or agent file. Every one of
 * them is far smaller; the bound is there so that a path to /dev/zero, a
 * growing log or a multi-gigabyte file is refused instead of filling memory
 * (readFileSync on /dev/zero never stops: its size reads as 0).
 */
export const MAX_INPUT_FILE_BYTES = 64 * 1024 * 1024;

const CHUNK = 64 * 1024;

/** Thrown with code EFBIG when the file holds more than the bound. */
export class InputFileTooLarge extends Error {
  readonly code = 'EFBIG';
  constructor(readonly maxBytes: number) {
    super(`larger than ${maxBytes / (1024 * 1024)} MiB (the limit)`);
    this.name = 'InputFileTooLarge';
  }
}

/** How long a pipe, FIFO or terminal named as input may keep OACP waiting for its bytes. */
export const INPUT_WAIT_MS = 30_000;

/** Thrown with code ETIMEDOUT when a pipe or FIFO is held open and nothing more comes. */
export class InputFileStalled extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(readonly waitedMs: number) {
    super(`nothing came from it for ${waitedMs / 1000} s (a pipe or FIFO held open that nobody writes to)`);
    this.name = 'InputFileStalled';
  }
}

/** A user-named file as UTF-8 text; see readInputBytes. */
export function readInputText(path: string, maxBytes = MAX_INPUT_FILE_BYTES): string {
  return readInputBytes(path, maxBytes).toString('utf8');
}

/**
 * A user-named file, read to at most `maxBytes` whatever it is (regular
 * file, device, pipe). Opened without blocking: a FIFO nobody writes to
 * (planted, say, by a sandbox in a directory it may write, where the
 * operator's next manifest or config is looked for) reads as empty instead
 * of hanging the open forever, and one held open without data is given up
 * after `waitMs`. Errors are fs errors (ENOENT, EISDIR, EACCES, ...),
 * InputFileTooLarge or InputFileStalled; `inputFileFailure` words any of them.
 */
export function readInputBytes(
  path: string,
  maxBytes = MAX_INPUT_FILE_BYTES,
  waitMs = INPUT_WAIT_MS,
): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    // A regular file never answers EAGAIN; the waiting below is for pipes, FIFOs and terminals.
    const waits = fstatSync(fd).isFile() ? undefined : new Int32Array(new SharedArrayBuffer(4));
    const chunks: Buffer[] = [];
    let total = 0;
    let idleSince = Date.now();
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      let read: number;
      try {
        read = readSync(fd, chunk, 0, CHUNK, null);
      } catch (error) {
        if (waits === undefined || (error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        if (Date.now() - idleSince >= waitMs) throw new InputFileStalled(waitMs);
        Atomics.wait(waits, 0, 0, 10);
        continue;
      }
      if (read === 0) break;
      idleSince = Date.now();
      total += read;
      if (total > maxBytes) throw new InputFileTooLarge(maxBytes);
      chunks.push(read === CHUNK ? chunk : chunk.subarray(0, read));
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** Why a user-named file could not be read, without a stack: the fs error's code, or the bound it passed. */
export function inputFileFailure(error: unknown): string {
  if (error instanceof InputFileTooLarge || error instanceof InputFileStalled) return error.message;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code ?? (error instanceof Error ? error.message : 'unreadable');
}
