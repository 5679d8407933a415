import { statfsSync } from 'node:fs';
import { OacpError } from '../core/errors.js';
import type { McpErrorCode } from './errors.js';

/** Free space below which a log is taken to be unable to append (a receipt is a few KiB). */
export const DEFAULT_MIN_FREE_BYTES = 1024 * 1024;

/**
 * What one receipt is charged against the free space measured last: its
 * envelope, the log's record and its share of tiles and checkpoint files, with
 * room to spare (a receipt is a few KiB).
 */
export const RECEIPT_BYTES_CHARGE = 64 * 1024;

/** The longest a measurement of free space is trusted, however much of it is left. */
export const FREE_SPACE_TRUSTED_MS = 100;

/**
 * Whether a receipt log can take the next receipt, asked before a call is
 * forwarded so that no side effect happens without a place for its receipt:
 * not after a failed append (until an append succeeds again), nor while the
 * log's filesystem (`dir`) has less than `minFreeBytes` free.
 *
 * Free space is measured with statfs(2), but not on every call: a measurement
 * is trusted while the receipts asked for since then, each charged
 * RECEIPT_BYTES_CHARGE, fit in what it found above the minimum, and for at
 * most FREE_SPACE_TRUSTED_MS (no timer: the clock is read when asked). A
 * filesystem found short is measured again on every call, so a refusal ends as
 * soon as space is freed. Whatever fills the disk in between (another process)
 * makes the append itself fail, and that closes the slot (see `track`).
 */
export class ReceiptSlot {
  readonly #dir: string | undefined;
  readonly #minFree: number;
  #lastFailure: Error | undefined;
  /** Bytes left to charge before free space is measured again; 0 when it must be measured. */
  #headroom = 0;
  /** performance.now() of the last measurement. */
  #measuredAt = 0;

  constructor(options: { dir?: string; minFreeBytes?: number } = {}) {
    this.#dir = options.dir;
    this.#minFree = options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES;
  }

  /** Watches one append: its failure closes the slot, its success opens it again. */
  track<T>(append: Promise<T>): Promise<T> {
    return append.then(
      (value) => {
        this.#lastFailure = undefined;
        return value;
      },
      (error: unknown) => {
        this.#lastFailure = error instanceof Error ? error : new Error(String(error));
        // Measured afresh next time: a failed append may mean the disk filled up.
        this.#headroom = 0;
        throw error;
      },
    );
  }

  /** Throws MCP_RECEIPT_UNAVAILABLE, saying why, when no receipt could be appended now. */
  check(): void {
    if (this.#lastFailure !== undefined) {
      throw unavailable(`the last receipt could not be appended (${this.#lastFailure.message})`);
    }
    if (this.#dir === undefined) return;
    const now = performance.now();
    if (this.#headroom >= RECEIPT_BYTES_CHARGE && now - this.#measuredAt < FREE_SPACE_TRUSTED_MS) {
      this.#headroom -= RECEIPT_BYTES_CHARGE;
      return;
    }
    this.#headroom = 0;
    const fs = statfsSync(this.#dir);
    const free = Number(fs.bavail) * Number(fs.bsize);
    if (free < this.#minFree) {
      throw unavailable(
        `the log's filesystem has ${free} bytes free, less than the ${this.#minFree} a receipt may need`,
      );
    }
    this.#measuredAt = now;
    this.#headroom = Math.max(0, free - this.#minFree - RECEIPT_BYTES_CHARGE);
  }
}

function unavailable(why: string): OacpError<McpErrorCode> {
  return new OacpError<McpErrorCode>('MCP_RECEIPT_UNAVAILABLE', `the receipt log cannot append: ${why}`);
}
