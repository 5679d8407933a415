import { sha256Hex } from '../../core/digest.js';
import { canonicalize } from '../../core/jcs.js';
import { type BatchJournal, type BatchParts, type BatchResult, type ItemPlan, toResult } from './batch.js';
import type { Amount, ItemRow } from './batch-item-store.js';
import type { ItemReceipt } from './batch-receipts.js';

const NOTHING: Amount = { tokens: 0, costMicros: 0 };

/**
 * What each item of batch `id` becomes when a restart resumes it
 * (docs/model-gateway.md, Batches after a restart): `done` keeps its result;
 * one whose receipt is in the log (`found`) but whose row missed it is kept
 * with that receipt, its answer lost; `sent` or `submitting` may be with the
 * provider where no provider batch says: failed with a receipt, charged what
 * it drew, never sent again; `submitted` is re-attached to its provider batch;
 * `pending` is sent. Returns the plans, what the items had drawn from the
 * batch's reservation and what the ended ones were charged.
 */
export async function planResume(
  id: string,
  items: readonly ItemRow[],
  parts: BatchParts,
  found: ReadonlyMap<number, ItemReceipt>,
  settled: boolean,
  journal: BatchJournal,
): Promise<{ plans: ItemPlan[]; drawn: Amount; charged: Amount }> {
  const plans: ItemPlan[] = [];
  let drawn = NOTHING;
  let charged = NOTHING;
  const add = (a: Amount, b: Amount | undefined): Amount =>
    b === undefined ? a : { tokens: a.tokens + b.tokens, costMicros: a.costMicros + b.costMicros };
  for (const item of items) {
    const plan = {
      index: item.item,
      custom_id: item.customId,
      body: JSON.parse(item.body) as Record<string, unknown>,
    };
    const progress = item.progress;
    if (item.state !== 'pending') drawn = add(drawn, progress.drawn);
    if (item.state === 'done' && progress.result !== undefined) {
      charged = add(charged, progress.charged);
      plans.push({ ...plan, done: progress.result });
      continue;
    }
    const receipt = found.get(item.item);
    if (receipt !== undefined || settled) {
      // Receipted (or the batch already settled) but its row missed it: kept, its answer lost.
      const spent = { tokens: receipt?.chargedTokens ?? 0, costMicros: receipt?.costMicros ?? 0 };
      const result = lostAnswer(parts, item.customId, receipt);
      charged = add(charged, spent);
      await journal.done(item.item, result, progress.drawn, spent).catch(() => undefined);
      plans.push({ ...plan, done: result });
      continue;
    }
    if (item.state === 'sent' || item.state === 'submitting') {
      // The provider may have it, and no provider batch says where: never sent again, charged what it drew.
      const spent = progress.drawn ?? NOTHING;
      const answer = await parts.gateway.abandoned(
        parts.dialect,
        parts.caller,
        sha256Hex(canonicalize(plan.body.stream === true ? { ...plan.body, stream: false } : plan.body)),
        `the gateway stopped while the provider may have had this item (${item.state}); it is not sent again and stays charged what it drew`,
        { batch: { id: id, item: item.item }, charged: spent.tokens },
      );
      const result = toResult(item.customId, answer);
      charged = add(charged, spent);
      await journal.done(item.item, result, progress.drawn, spent).catch(() => undefined);
      plans.push({ ...plan, done: result });
      continue;
    }
    if (item.state === 'submitted' && progress.provider !== undefined) {
      plans.push({
        ...plan,
        attach: {
          provider: progress.provider.name,
          batch: progress.provider.batch,
          item: progress.provider.item,
          drawn: progress.drawn ?? NOTHING,
        },
      });
      continue;
    }
    plans.push(plan);
  }
  return { plans, drawn, charged };
}

/** An item receipted before the restart whose answer was not stored: kept with its receipt, its answer lost. */
function lostAnswer(parts: BatchParts, customId: string, receipt: ItemReceipt | undefined): BatchResult {
  const status = receipt?.outcome === 'denied' ? 403 : receipt?.outcome === 'quota' ? 429 : 502;
  const message =
    receipt === undefined
      ? 'the gateway stopped after this item ended but before its result was stored'
      : `the gateway stopped after this item was receipted (${receipt.outcome}, receipt ${receipt.index}) but before its answer was stored: the answer is lost, the charge stands`;
  return {
    custom_id: customId,
    status,
    body: parts.dialect.error(status, 'answer_lost', message),
    ...(receipt === undefined ? {} : { receipt: receipt.index }),
  };
}
