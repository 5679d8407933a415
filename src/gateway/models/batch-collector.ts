import { type BatchApi, BatchApiError, type BatchItem, type BatchItemResult } from './batch-api.js';
import { anthropicBatchApi } from './batch-api-anthropic.js';
import { openAiBatchApi } from './batch-api-openai.js';
import type { ProviderConfig } from './config.js';
import type { Attempt, Dispatched, ProviderSecrets } from './dispatch.js';
import type { Providers } from './providers.js';
import type { UpstreamResponse } from './upstream.js';

/** What a checked, reserved call would send: the hook a batch puts in place of a direct dispatch. */
export interface SendRequest {
  readonly providers: readonly ProviderConfig[];
  readonly path: string;
  readonly body: string;
}

/** Item `index`'s id in the provider batches (never the client's custom_id). */
export function providerItemId(index: number): string {
  return `oacp-${index}`;
}

/** Where a batch's items stand with the provider batches, written before each step (a restart re-attaches by it). */
export interface CollectorJournal {
  /** Before a provider batch is submitted: from now on the provider may hold these items. */
  submitting(items: readonly number[]): Promise<void>;
  /** The provider batch that holds them. */
  submitted(provider: string, batch: string, items: readonly number[]): Promise<void>;
}

export interface CollectorParts {
  /** Items in the batch: the provider batches are submitted once each has been sent or refused. */
  readonly expected: number;
  readonly providers: Providers;
  readonly secretsFor: (provider: ProviderConfig) => Promise<ProviderSecrets>;
  /** Direct sends (providers without a batch API) in flight at once. */
  readonly concurrency: number;
  readonly pollMs: number;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly journal?: CollectorJournal;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

interface Waiting {
  readonly item: BatchItem;
  /** The item's index in its batch. */
  readonly index: number;
  resolve(result: Dispatched): void;
}

/** A provider batch followed to its end: its answers by item id, or why there are none. */
type Followed = { readonly results: Map<string, BatchItemResult> } | { readonly error: string };

const realSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/**
 * Gathers the items of one batch after their checks and reservations: an
 * item whose first provider has `batch_api: true` (and a closed breaker)
 * waits for its provider's batch, submitted once every item of the batch has
 * been sent or refused, polled until it ends (or cancelled at the timeout);
 * any other item is sent directly, `concurrency` at a time.
 */
export class BatchCollector {
  readonly #groups = new Map<string, { provider: ProviderConfig; waiting: Waiting[] }>();
  #arrived = 0;
  #inFlight = 0;
  readonly #queue: (() => void)[] = [];
  /** Provider batches being followed, by provider and id: each polled once, whoever waits for it. */
  readonly #followed = new Map<string, Promise<Followed>>();

  constructor(private readonly parts: CollectorParts) {}

  /** Sends item `index` of the batch: in its provider's batch, or directly. */
  send(request: SendRequest, direct: () => Promise<Dispatched>, index: number): Promise<Dispatched> {
    const provider = request.providers[0];
    const usable =
      provider?.batch_api === true && this.parts.providers.get(provider.name).breaker.state !== 'open';
    if (provider === undefined || !usable) {
      this.arrived();
      return this.#limited(direct);
    }
    const key = `${provider.name} ${request.path}`;
    const group = this.#groups.get(key) ?? { provider, waiting: [] };
    this.#groups.set(key, group);
    const result = new Promise<Dispatched>((resolve) => {
      group.waiting.push({
        item: { id: providerItemId(index), path: request.path, body: request.body },
        index,
        resolve,
      });
    });
    this.arrived();
    return result;
  }

  /**
   * An item a previous process submitted in provider batch `batch` (a
   * restart): its answer is read from that batch, never submitted again.
   */
  attach(provider: ProviderConfig, batch: string, item: string): Promise<Dispatched> {
    this.arrived();
    const started = performance.now();
    return this.#follow(provider, batch).then((followed) =>
      answerOf(provider, batch, followed, item, performance.now() - started),
    );
  }

  /** One item is sent or refused; the last one submits the provider batches. */
  arrived(): void {
    this.#arrived += 1;
    if (this.#arrived !== this.parts.expected) return;
    for (const group of this.#groups.values()) void this.#run(group.provider, group.waiting);
  }

  async #limited(direct: () => Promise<Dispatched>): Promise<Dispatched> {
    if (this.#inFlight >= this.parts.concurrency) await new Promise<void>((go) => this.#queue.push(go));
    this.#inFlight += 1;
    try {
      return await direct();
    } finally {
      this.#inFlight -= 1;
      this.#queue.shift()?.();
    }
  }

  async #run(provider: ProviderConfig, waiting: readonly Waiting[]): Promise<void> {
    const started = performance.now();
    const indices = waiting.map((entry) => entry.index);
    let id: string;
    try {
      const api = await this.#api(provider);
      // Written first: a restart that finds these items `submitting` cannot know whether the
      // provider has them, so it fails them charged rather than send them twice.
      await this.parts.journal?.submitting(indices);
      id = await api.submit(
        waiting.map((entry) => entry.item),
        this.#signal(),
      );
    } catch (error) {
      this.parts.providers.failed(provider.name, 'client_error');
      const reason = `provider ${provider.name}'s batch API refused the batch: ${describe(error)}`;
      for (const entry of waiting)
        entry.resolve(failure(provider, reason, performance.now() - started, false));
      return;
    }
    // A store that fails here leaves them `submitting`: a restart fails them charged (never resent).
    await this.parts.journal?.submitted(provider.name, id, indices).catch(() => undefined);
    const followed = await this.#follow(provider, id);
    const durationMs = performance.now() - started;
    for (const entry of waiting) entry.resolve(answerOf(provider, id, followed, entry.item.id, durationMs));
  }

  /** Polls provider batch `id` until it ends (or cancels it at the timeout or the batch's cancel). */
  #follow(provider: ProviderConfig, id: string): Promise<Followed> {
    const key = `${provider.name} ${id}`;
    let followed = this.#followed.get(key);
    if (followed === undefined) {
      followed = this.#poll(provider, id);
      this.#followed.set(key, followed);
    }
    return followed;
  }

  async #poll(provider: ProviderConfig, id: string): Promise<Followed> {
    const signal = this.#signal();
    let api: BatchApi | undefined;
    try {
      api = await this.#api(provider);
      for (;;) {
        const state = await api.poll(id, signal);
        if (state.ended) break;
        await (this.parts.sleep ?? realSleep)(this.parts.pollMs, signal);
        if (signal.aborted)
          throw new BatchApiError(`the batch did not end within ${this.parts.timeoutMs} ms`);
      }
      return { results: await api.results(id, signal) };
    } catch (error) {
      // Submitted, so the provider may have run (and billed) any item: the reservations stay spent.
      await api?.cancel(id);
      return { error: `provider ${provider.name}'s batch ${id}: ${describe(error)}` };
    }
  }

  async #api(provider: ProviderConfig): Promise<BatchApi> {
    const secrets = await this.parts.secretsFor(provider);
    const client = this.parts.providers.get(provider.name).client;
    return provider.kind === 'openai' ? openAiBatchApi(client, secrets) : anthropicBatchApi(client, secrets);
  }

  #signal(): AbortSignal {
    const timeout = AbortSignal.timeout(this.parts.timeoutMs);
    return this.parts.signal === undefined ? timeout : AbortSignal.any([timeout, this.parts.signal]);
  }
}

/** One item's answer from a followed provider batch, as a direct dispatch would have given it. */
function answerOf(
  provider: ProviderConfig,
  id: string,
  followed: Followed,
  item: string,
  durationMs: number,
): Dispatched {
  if ('error' in followed) return failure(provider, followed.error, durationMs, true);
  const result = followed.results.get(item);
  if (result === undefined || 'error' in result) {
    const reason =
      result === undefined
        ? `provider ${provider.name}'s batch ${id} has no result for this item`
        : result.error;
    return failure(provider, reason, durationMs, false);
  }
  return {
    ok: true,
    provider,
    response: answered(result.status, result.body),
    attempts: [{ provider: provider.name, status: result.status, durationMs }],
  };
}

function failure(provider: ProviderConfig, reason: string, durationMs: number, spent: boolean): Dispatched {
  const attempt: Attempt = { provider: provider.name, status: 0, durationMs, error: reason.slice(0, 512) };
  return { ok: false, attempts: [attempt], reason, status: 502, spent };
}

/** One batch result as the answer a direct call would have read. */
function answered(status: number, body: unknown): UpstreamResponse {
  const bytes = Buffer.from(JSON.stringify(body ?? null));
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: (async function* () {
      yield bytes;
    })(),
    dump: async () => undefined,
  };
}

function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 300);
}
