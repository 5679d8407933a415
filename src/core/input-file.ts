import { closeSync, openSync, readSync } from 'node:fs';

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

/** A user-named file as UTF-8 text; see readInputBytes. */
export function readInputText(path: string, maxBytes = MAX_INPUT_FILE_BYTES): string {
  return readInputBytes(path, maxBytes).toString('utf8');
}

/**
 * A user-named file, read to at most `maxBytes` whatever it is (regular
 * file, device, pipe). Errors are fs errors (ENOENT, EISDIR, EACCES, ...)
 * or InputFileTooLarge; `inputFileFailure` words any of them.
 */
export function readInputBytes(path: string, maxBytes = MAX_INPUT_FILE_BYTES): Buffer {
  const fd = openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      const read = readSync(fd, chunk, 0, CHUNK, null);
      if (read === 0) break;
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
  if (error instanceof InputFileTooLarge) return error.message;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code ?? (error instanceof Error ? error.message : 'unreadable');
}
