import { describeError } from '../../core/errors.js';
import type { ModelBatches } from './batch-jobs.js';

export interface BatchPrunerOptions {
  /** How long an ended batch (with its output file) and an uploaded file are kept. */
  readonly retentionMs: number;
  /** Between two prunes (an hour by default); the first runs as the gateway starts, in the background. */
  readonly everyMs?: number;
  readonly onEvent?: (line: string) => void;
}

const HOUR_MS = 60 * 60 * 1000;

/**
 * Prunes the model gateway's batch tables (ModelBatches.prune) once the
 * gateway has started and then every hour, off every request's path. A prune
 * that fails is reported and tried again at the next turn. Returns the stop
 * function, which waits for a prune under way so the store closes after it.
 */
export function startBatchPruner(
  batches: Pick<ModelBatches, 'prune'>,
  files: { pruneOlder(before: string): Promise<number> },
  options: BatchPrunerOptions,
): () => Promise<void> {
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    running = batches.prune(files, options.retentionMs).then(
      (pruned) => {
        if (pruned.items + pruned.batches + pruned.files > 0)
          options.onEvent?.(
            `pruned ${pruned.items} items of batches not running, ${pruned.batches} ended batches and ${pruned.files} uploaded files`,
          );
      },
      (error: unknown) => options.onEvent?.(`batch pruning failed: ${describeError(error)}`),
    );
  };
  const first = setTimeout(tick, 0);
  first.unref();
  const timer = setInterval(tick, options.everyMs ?? HOUR_MS);
  timer.unref();
  return async () => {
    stopped = true;
    clearTimeout(first);
    clearInterval(timer);
    await running;
  };
}
