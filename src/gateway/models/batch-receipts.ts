import { MODEL_CALL_PREDICATE_TYPE } from '../../attest/model-call.js';
import { parseEnvelopeBytes } from '../../attest/receipt.js';

/** The receipt an item of a batch got: where it is in the log, its outcome, what it says was charged. */
export interface ItemReceipt {
  readonly index: number;
  readonly outcome: string;
  readonly chargedTokens: number;
  readonly costMicros: number;
}

/** What reading a batch's receipts needs of the log. */
export interface LogReader {
  readonly size: number;
  entry(index: number): Promise<Uint8Array>;
}

/**
 * The receipts of batch `id`'s items among the log's entries from `from` on
 * (the log's size when the batch was made): after a crash, an item whose
 * receipt was written but whose row was not is found here, so it is never
 * answered, receipted or charged a second time. An entry that cannot be read
 * is skipped (it is no model-call receipt of this batch).
 */
export async function receiptsOfBatch(
  log: LogReader,
  id: string,
  from: number,
): Promise<Map<number, ItemReceipt>> {
  const found = new Map<number, ItemReceipt>();
  for (let index = Math.max(0, from); index < log.size; index++) {
    let statement: { predicateType?: unknown; predicate?: Record<string, unknown> };
    try {
      statement = JSON.parse(
        Buffer.from(parseEnvelopeBytes(await log.entry(index)).payload, 'base64').toString('utf8'),
      );
    } catch {
      continue;
    }
    if (statement.predicateType !== MODEL_CALL_PREDICATE_TYPE) continue;
    const predicate = statement.predicate ?? {};
    const batch = predicate.batch as { id?: unknown; item?: unknown } | undefined;
    if (batch?.id !== id || typeof batch.item !== 'number') continue;
    const usage = predicate.usage as { chargedTokens?: unknown } | undefined;
    found.set(batch.item, {
      index,
      outcome: String(predicate.outcome),
      chargedTokens: typeof usage?.chargedTokens === 'number' ? usage.chargedTokens : 0,
      costMicros: typeof predicate.costUsd === 'number' ? Math.round(predicate.costUsd * 1e6) : 0,
    });
  }
  return found;
}
