import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { messages } from './anthropic-wire.js';
import { BatchCollector, type CollectorParts } from './batch-collector.js';
import type { Amount } from './batch-item-store.js';
import { BatchPool } from './batch-pool.js';
import type { BudgetVerdict, Reservation } from './budget.js';
import type { ModelsSection } from './config.js';
import type { Dialect } from './dialect.js';
import type { Dispatched } from './dispatch.js';
import type { ModelAnswer, ModelCaller, ModelGateway } from './model-gateway.js';
import { chatCompletions, embeddings } from './openai-wire.js';
import { estimateInputTokens } from './tokens.js';

/** Most items in one batch (inline or in an uploaded file). */
export const MAX_BATCH_ITEMS = 1000;

const ENDPOINT = z.enum(['/v1/chat/completions', '/v1/embeddings', '/v1/messages'], {
  error: 'expected /v1/chat/completions, /v1/embeddings or /v1/messages',
});

const ITEMS = z
  .array(
    z.strictObject({
      custom_id: z.string().min(1).max(64),
      body: z.record(z.string(), z.unknown(), { error: 'expected a JSON object' }),
    }),
    { error: 'expected the items inline, as a list' },
  )
  .min(1, { error: 'a batch needs at least one request' })
  .max(MAX_BATCH_ITEMS, { error: `a batch holds at most ${MAX_BATCH_ITEMS} requests` })
  // A client matches results to its requests by custom_id: two alike could not be told apart (an
  // uploaded file is held to the same, batch-files.ts).
  .superRefine((items, context) => {
    const seen = new Set<string>();
    for (const [index, item] of items.entries()) {
      if (seen.has(item.custom_id)) {
        context.addIssue({
          code: 'custom',
          path: [index, 'custom_id'],
          message: `custom_id "${item.custom_id}" is used twice`,
        });
        return;
      }
      seen.add(item.custom_id);
    }
  });

/**
 * A batch as a client sends it: the items inline (`requests`) or in a file it
 * uploaded (`input_file_id`, OpenAI's way), one of the two.
 */
export const BatchCreateSchema = z
  .strictObject({
    endpoint: ENDPOINT,
    requests: ITEMS.optional(),
    input_file_id: z.string().min(1).max(64).optional(),
    // OpenAI's batch fields: the only window is 24h.
    completion_window: z.literal('24h', { error: 'expected 24h' }).optional(),
    metadata: z.record(z.string().max(64), z.string().max(512)).optional(),
  })
  .refine((batch) => (batch.requests === undefined) !== (batch.input_file_id === undefined), {
    error:
      'give the items inline as `requests` or upload them (POST /v1/files, purpose batch) and name the file in `input_file_id`: one of the two',
    path: ['input_file_id'],
  });
export type BatchCreate = z.infer<typeof BatchCreateSchema>;

/** A batch with its items at hand (read from its input file when it named one). */
export type BatchRequest = BatchCreate & { readonly requests: z.infer<typeof ITEMS> };

/** The endpoints a batch (or a line of its input file) may name. */
export const BatchEndpointSchema = ENDPOINT;

/** The dialect of each endpoint a batch may name. */
export const BATCH_DIALECTS: Readonly<Record<string, Dialect>> = {
  '/v1/chat/completions': chatCompletions,
  '/v1/embeddings': embeddings,
  '/v1/messages': messages,
};

export interface BatchResult {
  readonly custom_id: string;
  readonly status: number;
  readonly body: unknown;
  readonly receipt?: number;
}

export interface BatchParts {
  readonly gateway: ModelGateway;
  readonly dialect: Dialect;
  readonly caller: ModelCaller;
  readonly batch: BatchRequest;
  /** How items are sent: the provider's batch API where configured, else directly under a limit. */
  readonly collector: Omit<CollectorParts, 'expected' | 'signal' | 'journal'>;
  readonly estimateCost: (body: Readonly<Record<string, unknown>>, tokens: number) => number;
}

/** How a batch of `caller`'s runs under the gateway's `models` config. */
export function batchParts(
  gateway: ModelGateway,
  config: ModelsSection,
  caller: ModelCaller,
  batch: BatchRequest,
): BatchParts {
  const dialect = BATCH_DIALECTS[batch.endpoint] ?? chatCompletions;
  return {
    gateway,
    dialect,
    caller,
    batch,
    collector: {
      providers: gateway.providers,
      secretsFor: gateway.secretsFor,
      concurrency: config.batch_concurrency,
      pollMs: config.batch_poll_ms,
      timeoutMs: config.batch_timeout_ms,
    },
    estimateCost: (body, tokens) => gateway.costEstimate(dialect, body, tokens),
  };
}

/** A batch refused whole (its budget did not fit): every item refused with a receipt, nothing sent. */
export interface BatchRefused {
  readonly refused: true;
  readonly results: BatchResult[];
  readonly headers: Record<string, string>;
}

/** Where each item goes as it goes, written before each step (model_batch_items): a restart resumes from it. */
export interface BatchJournal {
  /** Item `item` drew `drawn` from the batch's reservation and is handed to its provider directly. */
  sent(item: number, drawn: Amount): Promise<void>;
  /** These items are about to be submitted in one provider batch. */
  submitting(items: readonly (readonly [number, Amount])[]): Promise<void>;
  /** These items are in provider `provider`'s batch `batch` (each by providerItemId). */
  submitted(provider: string, batch: string, items: readonly (readonly [number, Amount])[]): Promise<void>;
  /** Item `item` ended: its result (with its receipt), what it drew and what it was charged. */
  done(item: number, result: BatchResult, drawn: Amount | undefined, charged: Amount): Promise<void>;
}

/** A batch whose budget is reserved: `run` sends its items (once) and settles the batch. */
export interface BatchReserved {
  readonly refused: false;
  /** The batch's id: named in its items' receipts, and the marker of its reservation. */
  readonly id: string;
  /** The whole batch's reservation (stored with the batch, so a restart resumes under it). */
  readonly reservation: Reservation;
  run(
    signal: AbortSignal,
    onResult?: (result: BatchResult) => void,
    journal?: BatchJournal,
  ): Promise<BatchResult[]>;
  /** Settles the reservation at nothing, for a batch that will never run. */
  release(): Promise<void>;
}

/** One item of a batch to run: a new one, one a previous process left in a provider batch, or one already ended. */
export interface ItemPlan {
  readonly index: number;
  readonly custom_id: string;
  readonly body: Readonly<Record<string, unknown>>;
  readonly done?: BatchResult;
  readonly attach?: {
    readonly provider: string;
    readonly batch: string;
    readonly item: string;
    readonly drawn: Amount;
  };
}

const NOTHING: Amount = { tokens: 0, costMicros: 0 };

/**
 * Reserves a batch: the budget of the whole batch (each item's input estimate
 * plus its output cap) is reserved first, or every item is refused with a
 * receipt; then `run` sends every item through the one model-call path (its
 * own checks, its own receipt), drawing from the batch's reservation, by the
 * collector: in its provider's batch API (`batch_api: true`), else directly,
 * `batch_concurrency` at a time. Aborting `run`'s signal cancels the provider
 * batches and the items not yet sent. The batch settles once, at its end.
 */
export async function reserveBatch(input: BatchParts): Promise<BatchRefused | BatchReserved> {
  const { gateway, dialect, caller, batch } = input;
  const perRequest = caller.manifest.quotas.llm_tokens_per_request;
  let tokens = 0;
  let cost = 0;
  for (const item of batch.requests) {
    const estimated = estimateInputTokens(item.body);
    const read = dialect.read(item.body);
    const asked = read.maxTokens;
    // `n` answers of up to the cap each, as the item's own call reserves them (model-gateway.ts): a
    // batch counting one answer refused every item asking for more, and ran a batch that could not fit.
    const answers =
      Number.isInteger(read.choices) && (read.choices as number) >= 1 ? (read.choices as number) : 1;
    const each = dialect.generates
      ? Math.max(
          0,
          Math.min(
            typeof asked === 'number' ? asked : perRequest,
            Math.floor((perRequest - estimated) / answers),
          ),
        )
      : 0;
    const cap = each * answers;
    tokens += estimated + cap;
    cost += input.estimateCost(item.body, estimated + cap);
  }
  const id = `batch_${randomBytes(12).toString('hex')}`;
  const reserved = await BatchPool.reserve(gateway.budget, caller.lineage, tokens, cost, id);
  if ('refusal' in reserved) {
    const results: BatchResult[] = [];
    for (const item of batch.requests) {
      const answer = await gateway.call(dialect, caller, item.body, { reserve: () => reserved.refusal });
      results.push(toResult(item.custom_id, answer));
    }
    return {
      refused: true,
      results,
      headers: {
        'oacp-quota': reserved.refusal.quota,
        ...(reserved.refusal.retryAfterSeconds === undefined
          ? {}
          : { 'retry-after': String(reserved.refusal.retryAfterSeconds) }),
      },
    };
  }
  const { pool } = reserved;
  const plans = batch.requests.map((item, index) => ({ index, custom_id: item.custom_id, body: item.body }));
  return {
    refused: false,
    id,
    reservation: pool.reservation,
    release: () => pool.close(),
    run: (signal, onResult, journal) => runPlans(input, id, pool, plans, signal, onResult, journal),
  };
}

/**
 * Runs a batch's items (new, or what a previous process left): each ended one
 * is kept, each left in a provider batch is read from it, the others are sent;
 * then the batch settles once, on what every item was charged.
 */
export async function runPlans(
  input: BatchParts,
  id: string,
  pool: BatchPool,
  plans: readonly ItemPlan[],
  signal: AbortSignal,
  onResult?: (result: BatchResult) => void,
  journal?: BatchJournal,
): Promise<BatchResult[]> {
  const { gateway, dialect, caller } = input;
  const open = plans.filter((plan) => plan.done === undefined);
  const draws = new Map<number, Amount>();
  const drawsOf = (items: readonly number[]) =>
    items.map((item) => [item, draws.get(item) ?? NOTHING] as const);
  const collector = new BatchCollector({
    ...input.collector,
    signal,
    expected: open.length,
    ...(journal === undefined
      ? {}
      : {
          journal: {
            submitting: (items) => journal.submitting(drawsOf(items)),
            submitted: (provider, batch, items) => journal.submitted(provider, batch, drawsOf(items)),
          },
        }),
  });
  const runOne = async (plan: ItemPlan): Promise<BatchResult> => {
    if (plan.done !== undefined) return plan.done;
    let sent = false;
    let drawn: Amount | undefined = plan.attach?.drawn;
    let charged: Amount = NOTHING;
    const body = plan.body.stream === true ? { ...plan.body, stream: false } : plan.body;
    let result: BatchResult;
    try {
      const answer = await gateway.call(dialect, caller, body, {
        signal,
        batch: { id, item: plan.index },
        reserve: (t, c) => {
          if (plan.attach !== undefined) return attachedDraw(plan.attach.drawn);
          if (signal.aborted)
            return { effect: 'deny', quota: 'models.batch', reason: 'the batch was cancelled' };
          const verdict = pool.take(t, c);
          if (verdict.effect === 'allow') {
            drawn = { tokens: t, costMicros: c };
            draws.set(plan.index, drawn);
          }
          return verdict;
        },
        settle: (_reservation, t, c) => {
          charged = { tokens: t, costMicros: c };
        },
        send: (request, direct) => {
          sent = true;
          if (plan.attach !== undefined) {
            const { provider, batch, item } = plan.attach;
            const config = request.providers.find((p) => p.name === provider);
            if (config === undefined) {
              collector.arrived();
              return Promise.resolve(unreachable(provider, batch));
            }
            return collector.attach(config, batch, item);
          }
          const recorded = async () => {
            // Written before the provider can see it: a restart never sends it again.
            try {
              await journal?.sent(plan.index, drawn ?? NOTHING);
            } catch (error) {
              return notRecorded(error);
            }
            return direct();
          };
          return collector.send(request, recorded, plan.index);
        },
      });
      result = toResult(plan.custom_id, answer);
    } catch (error) {
      result = {
        custom_id: plan.custom_id,
        status: 500,
        body: dialect.error(500, 'batch_item_failed', describe(error)),
      };
      // The provider may have run it: it stays charged what it drew.
      if (sent) charged = drawn ?? NOTHING;
    } finally {
      // Refused before anything was sent: the provider batches need not wait for this item.
      if (!sent) collector.arrived();
    }
    // An item re-attached but refused before it was read (its policy changed): the provider had it.
    if (plan.attach !== undefined && !sent) charged = plan.attach.drawn;
    pool.charge(charged.tokens, charged.costMicros);
    await journal?.done(plan.index, result, drawn, charged).catch(() => undefined);
    onResult?.(result);
    return result;
  };
  try {
    return await Promise.all(plans.map(runOne));
  } finally {
    await pool.close();
  }
}

/**
 * The draw of an item a previous process left in a provider batch: its own,
 * not taken again. Its parts stay empty: a batch item's settlement goes to
 * the batch's pool, never to the budgets by itself.
 */
function attachedDraw(drawn: Amount): BudgetVerdict {
  return {
    effect: 'allow',
    reason: "drawn from the batch's reservation before the gateway restarted",
    reservation: {
      tokens: drawn.tokens,
      costMicros: drawn.costMicros,
      tokenParts: { parts: [] },
      costParts: { parts: [] },
    },
  };
}

function unreachable(provider: string, batch: string): Dispatched {
  const reason = `provider ${provider}, which holds this item in its batch ${batch}, is no longer configured`;
  return { ok: false, attempts: [], reason, status: 502, spent: true };
}

function notRecorded(error: unknown): Dispatched {
  const reason = `the store could not record the item before sending it, so it was not sent: ${describe(error)}`;
  return { ok: false, attempts: [], reason, status: 503, spent: false };
}

function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 300);
}

export function toResult(customId: string, answer: ModelAnswer): BatchResult {
  if (answer.kind !== 'json') throw new Error('a batch item never streams');
  const receipt = Number(answer.headers['oacp-receipt']);
  return {
    custom_id: customId,
    status: answer.status,
    body: answer.body,
    ...(Number.isInteger(receipt) ? { receipt } : {}),
  };
}
