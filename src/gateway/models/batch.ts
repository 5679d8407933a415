import { z } from 'zod';
import { messages } from './anthropic-wire.js';
import { BatchCollector, type CollectorParts } from './batch-collector.js';
import { BatchPool } from './batch-pool.js';
import type { Dialect } from './dialect.js';
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
  .max(MAX_BATCH_ITEMS, { error: `a batch holds at most ${MAX_BATCH_ITEMS} requests` });

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
  readonly collector: Omit<CollectorParts, 'expected' | 'signal'>;
  readonly estimateCost: (body: Readonly<Record<string, unknown>>, tokens: number) => number;
}

/** A batch refused whole (its budget did not fit): every item refused with a receipt, nothing sent. */
export interface BatchRefused {
  readonly refused: true;
  readonly results: BatchResult[];
  readonly headers: Record<string, string>;
}

/** A batch whose budget is reserved: `run` sends its items (once) and gives back what no item drew. */
export interface BatchReserved {
  readonly refused: false;
  run(signal: AbortSignal, onResult?: (result: BatchResult) => void): Promise<BatchResult[]>;
  /** Gives the whole reservation back, for a batch that will never run. */
  release(): Promise<void>;
}

/**
 * Reserves a batch: the budget of the whole batch (each item's input estimate
 * plus its output cap) is reserved first, or every item is refused with a
 * receipt; then `run` sends every item through the one model-call path (its
 * own checks, its own receipt), drawing from the batch's reservation, by the
 * collector: in its provider's batch API (`batch_api: true`), else directly,
 * `batch_concurrency` at a time. Aborting `run`'s signal cancels the provider
 * batches and the items not yet sent; what they did not draw is given back.
 */
export async function reserveBatch(input: BatchParts): Promise<BatchRefused | BatchReserved> {
  const { gateway, dialect, caller, batch } = input;
  const perRequest = caller.manifest.quotas.llm_tokens_per_request;
  let tokens = 0;
  let cost = 0;
  for (const item of batch.requests) {
    const estimated = estimateInputTokens(item.body);
    const asked = dialect.read(item.body).maxTokens;
    const cap = dialect.generates
      ? Math.max(0, Math.min(typeof asked === 'number' ? asked : perRequest, perRequest - estimated))
      : 0;
    tokens += estimated + cap;
    cost += input.estimateCost(item.body, estimated + cap);
  }
  const reserved = await BatchPool.reserve(gateway.budget, caller.lineage, tokens, cost);
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
  return {
    refused: false,
    release: () => pool.close(),
    async run(signal, onResult) {
      const collector = new BatchCollector({ ...input.collector, signal, expected: batch.requests.length });
      try {
        return await Promise.all(
          batch.requests.map(async (item) => {
            let sent = false;
            const body = item.body.stream === true ? { ...item.body, stream: false } : item.body;
            try {
              const answer = await gateway.call(dialect, caller, body, {
                signal,
                reserve: (t, c) =>
                  signal.aborted
                    ? { effect: 'deny', quota: 'models.batch', reason: 'the batch was cancelled' }
                    : pool.take(t, c),
                send: (request, direct) => {
                  sent = true;
                  return collector.send(request, direct);
                },
              });
              const result = toResult(item.custom_id, answer);
              onResult?.(result);
              return result;
            } finally {
              // Refused before anything was sent: the provider batches need not wait for this item.
              if (!sent) collector.arrived();
            }
          }),
        );
      } finally {
        await pool.close();
      }
    },
  };
}

function toResult(customId: string, answer: ModelAnswer): BatchResult {
  if (answer.kind !== 'json') throw new Error('a batch item never streams');
  const receipt = Number(answer.headers['oacp-receipt']);
  return {
    custom_id: customId,
    status: answer.status,
    body: answer.body,
    ...(Number.isInteger(receipt) ? { receipt } : {}),
  };
}
