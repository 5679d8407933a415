import { statfsSync } from 'node:fs';
import { OacpError } from '../core/errors.js';
import type { McpErrorCode } from './errors.js';

/** Free space below which a log is taken to be unable to append (a receipt is a few KiB). */
export const DEFAULT_MIN_FREE_BYTES = 1024 * 1024;

/**
 * Whether a receipt log can take the next receipt, asked before a call is
 * forwarded so that no side effect happens without a place for its receipt:
 * not after a failed append (until an append succeeds again), nor while the
 * log's filesystem (`dir`) has less than `minFreeBytes` free.
 */
export class ReceiptSlot {
  readonly #dir: string | undefined;
  readonly #minFree: number;
  #lastFailure: Error | undefined;

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
        if (!refusedBeforeWriting(error)) {
          this.#lastFailure = error instanceof Error ? error : new Error(String(error));
        }
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
    const fs = statfsSync(this.#dir);
    const free = Number(fs.bavail) * Number(fs.bsize);
    if (free < this.#minFree) {
      throw unavailable(
        `the log's filesystem has ${free} bytes free, less than the ${this.#minFree} a receipt may need`,
      );
    }
  }
}

/**
 * Whether an append failed on the entry alone, refused by the log before anything was written
 * (LOG_ENTRY_TOO_LARGE): that says nothing of the log, so it closes no slot and stops no writer.
 * It did, and one receipt too large for an entry (a provider's 4 MB model name) refused every
 * later call of the process.
 */
export function refusedBeforeWriting(error: unknown): boolean {
  return error instanceof OacpError && error.code === 'LOG_ENTRY_TOO_LARGE';
}

function unavailable(why: string): OacpError<McpErrorCode> {
  return new OacpError<McpErrorCode>('MCP_RECEIPT_UNAVAILABLE', `the receipt log cannot append: ${why}`);
}
