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
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

interface Waiting {
  readonly item: BatchItem;
  resolve(result: Dispatched): void;
}

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

  constructor(private readonly parts: CollectorParts) {}

  send(request: SendRequest, direct: () => Promise<Dispatched>): Promise<Dispatched> {
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
        item: { id: `oacp-${group.waiting.length}`, path: request.path, body: request.body },
        resolve,
      });
    });
    this.arrived();
    return result;
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
    const failAll = (reason: string, spent: boolean) => {
      const attempt: Attempt = {
        provider: provider.name,
        status: 0,
        durationMs: performance.now() - started,
        error: reason.slice(0, 512),
      };
      for (const entry of waiting)
        entry.resolve({ ok: false, attempts: [attempt], reason, status: 502, spent });
    };
    const timeout = AbortSignal.timeout(this.parts.timeoutMs);
    const signal = this.parts.signal === undefined ? timeout : AbortSignal.any([timeout, this.parts.signal]);
    let api: BatchApi;
    let id: string;
    try {
      const secrets = await this.parts.secretsFor(provider);
      const client = this.parts.providers.get(provider.name).client;
      api = provider.kind === 'openai' ? openAiBatchApi(client, secrets) : anthropicBatchApi(client, secrets);
      id = await api.submit(
        waiting.map((entry) => entry.item),
        signal,
      );
    } catch (error) {
      this.parts.providers.failed(provider.name, 'client_error');
      failAll(`provider ${provider.name}'s batch API refused the batch: ${describe(error)}`, false);
      return;
    }
    let results: Map<string, BatchItemResult>;
    try {
      for (;;) {
        const state = await api.poll(id, signal);
        if (state.ended) break;
        await (this.parts.sleep ?? realSleep)(this.parts.pollMs, signal);
        if (signal.aborted)
          throw new BatchApiError(`the batch did not end within ${this.parts.timeoutMs} ms`);
      }
      results = await api.results(id, signal);
    } catch (error) {
      // Submitted, so the provider may have run (and billed) any item: the reservations stay spent.
      await api.cancel(id);
      failAll(`provider ${provider.name}'s batch ${id}: ${describe(error)}`, true);
      return;
    }
    const durationMs = performance.now() - started;
    for (const entry of waiting) {
      const result = results.get(entry.item.id);
      if (result === undefined || 'error' in result) {
        const reason =
          result === undefined
            ? `provider ${provider.name}'s batch ${id} has no result for this item`
            : result.error;
        entry.resolve({
          ok: false,
          attempts: [{ provider: provider.name, status: 0, durationMs, error: reason.slice(0, 512) }],
          reason,
          status: 502,
          spent: false,
        });
        continue;
      }
      entry.resolve({
        ok: true,
        provider,
        response: answered(result.status, result.body),
        attempts: [{ provider: provider.name, status: result.status, durationMs }],
      });
    }
  }
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
