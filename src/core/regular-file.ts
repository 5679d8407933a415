import { createHash } from 'node:crypto';
import { type BigIntStats, closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { InputFileTooLarge } from './input-file.js';

/**
 * A file OACP digests or reads as code (a server's executable, script or
 * package.json, a stored package tree's files), opened once and judged by
 * the descriptor: checking a path and then reading it by name again lets a
 * swap in between (a symlink, a FIFO that blocks the read forever) choose
 * what is read. Opened without following a final symlink and without
 * blocking; refused unless the descriptor is a regular file.
 */
export class NotRegularFile extends Error {
  readonly code = 'ENOTREG';
  constructor(readonly path: string) {
    super(`${path} is not a regular file`);
    this.name = 'NotRegularFile';
  }
}

/** Larger reads gain nothing; smaller ones cost calls. The memory held is this, whatever the file's size. */
const CHUNK = 1024 * 1024;

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** The sha256 of a regular file's bytes, streamed through the hash, and the descriptor's stat. */
export function sha256OfRegularFile(path: string): { readonly sha256: string; readonly stat: BigIntStats } {
  return withRegularFile(path, (fd, stat) => {
    const hash = createHash('sha256');
    const chunk = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const read = readSync(fd, chunk, 0, CHUNK, null);
      if (read === 0) break;
      hash.update(chunk.subarray(0, read));
    }
    return { sha256: hash.digest('hex'), stat };
  });
}

/** A regular file's bytes; one larger than `maxBytes` is refused (InputFileTooLarge) unread. */
export function readRegularFile(path: string, maxBytes: number): Buffer {
  return withRegularFile(path, (fd, stat) => {
    if (stat.size > BigInt(maxBytes)) throw new InputFileTooLarge(maxBytes);
    const wanted = Number(stat.size);
    const buffer = Buffer.alloc(wanted);
    let total = 0;
    for (let read = -1; read !== 0 && total < wanted; total += read) {
      read = readSync(fd, buffer, total, wanted - total, null);
    }
    return buffer.subarray(0, total);
  });
}

function withRegularFile<T>(path: string, use: (fd: number, stat: BigIntStats) => T): T {
  const fd = openSync(path, OPEN_FLAGS);
  try {
    const stat = fstatSync(fd, { bigint: true });
    if (!stat.isFile()) throw new NotRegularFile(path);
    return use(fd, stat);
  } finally {
    closeSync(fd);
  }
}
