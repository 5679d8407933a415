import { type Readable, Transform, type TransformCallback } from 'node:stream';

/** One byte budget shared by a sandbox's stdout and stderr. */
export class OutputBudget {
  private used = 0;
  private offered = 0;
  private exceeded = false;

  constructor(
    private readonly limit: number,
    private readonly onExceeded: () => void,
  ) {}

  get bytes(): number {
    return this.used;
  }

  /** Every byte read from the workload, past the budget too: whether its output is still arriving. */
  get received(): number {
    return this.offered;
  }

  /** How many bytes of a chunk may pass; fires `onExceeded` once when the chunk does not fit. */
  take(length: number): number {
    this.offered += length;
    const allowed = Math.max(0, Math.min(length, this.limit - this.used));
    this.used += allowed;
    if (allowed < length && !this.exceeded) {
      this.exceeded = true;
      this.onExceeded();
    }
    return allowed;
  }
}

/** A copy of `source` that stops passing bytes once the budget is spent. */
export function capStream(source: Readable, budget: OutputBudget): Readable {
  const capped = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      const allowed = budget.take(chunk.length);
      done(null, allowed === chunk.length ? chunk : chunk.subarray(0, allowed));
    },
  });
  source.pipe(capped);
  return capped;
}
