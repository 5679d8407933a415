import { describeError } from '../../core/errors.js';
import type { StoreQuotaEngine } from './store-engine.js';

export interface BucketPrunerOptions {
  /** How often to prune (ms, default an hour). */
  readonly everyMs?: number;
  /** Told what happened, one line; never secrets. */
  readonly onEvent?: (line: string) => void;
}

/**
 * Prunes the store's idle full buckets now and then (StoreQuotaEngine.prune).
 * A failure is only reported: pruning never decides a call. Returns the stop.
 */
export function startBucketPruner(
  engine: Pick<StoreQuotaEngine, 'prune'>,
  options: BucketPrunerOptions = {},
): () => void {
  const tick = async () => {
    try {
      const pruned = await engine.prune();
      if (pruned > 0) options.onEvent?.(`pruned ${pruned} idle full quota buckets`);
    } catch (error) {
      options.onEvent?.(`quota bucket pruning failed: ${describeError(error)}`);
    }
  };
  const timer = setInterval(() => void tick(), options.everyMs ?? 60 * 60 * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
