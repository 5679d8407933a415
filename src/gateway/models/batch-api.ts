import type { ProviderSecrets } from './dispatch.js';
import { ModelsError } from './errors.js';
import type { ProviderClient } from './upstream.js';

/** One request of a provider batch: our own id for it (never the client's), its upstream path and body. */
export interface BatchItem {
  readonly id: string;
  readonly path: string;
  readonly body: string;
}

/** What the provider answered for one item: an HTTP-like answer, or why there is none. */
export type BatchItemResult =
  | { readonly status: number; readonly body: unknown }
  | { readonly error: string };

export type BatchState = { readonly ended: false } | { readonly ended: true; readonly failed?: string };

/** A provider's asynchronous batch API, as the gateway drives it: submit, poll, read the results. */
export interface BatchApi {
  submit(items: readonly BatchItem[], signal: AbortSignal): Promise<string>;
  poll(id: string, signal: AbortSignal): Promise<BatchState>;
  results(id: string, signal: AbortSignal): Promise<Map<string, BatchItemResult>>;
  cancel(id: string): Promise<void>;
}

/** A batch API call the provider refused or answered with something unreadable (already redacted of keys). */
export class BatchApiError extends ModelsError {
  constructor(message: string) {
    super('MODELS_BATCH_API', message);
  }
}

/** Largest answer of a batch API call read (a result file holds up to 1,000 answers). */
const LIMIT = 256 * 1024 * 1024;

/** JSON calls to a provider's batch API with the vault's key, errors redacted. */
export function batchHttp(client: ProviderClient, secrets: ProviderSecrets, extra: Record<string, string>) {
  const request = async (
    method: 'GET' | 'POST',
    path: string,
    signal: AbortSignal | undefined,
    body?: { readonly type: string; readonly bytes: string | Buffer },
  ): Promise<Buffer> => {
    const answer = await client.exchange({
      method,
      path,
      headers: {
        ...extra,
        ...secrets.headers(),
        ...(body === undefined ? {} : { 'content-type': body.type }),
      },
      ...(body === undefined ? {} : { body: body.bytes }),
      limit: LIMIT,
      ...(signal === undefined ? {} : { signal }),
    });
    if (answer.status < 200 || answer.status >= 300) {
      const text = secrets.redact(answer.body.toString('utf8')).slice(0, 300);
      throw new BatchApiError(`${method} ${path} answered HTTP ${answer.status}: ${text}`);
    }
    return answer.body;
  };
  return {
    raw: request,
    async json(
      method: 'GET' | 'POST',
      path: string,
      signal: AbortSignal | undefined,
      body?: unknown,
    ): Promise<Record<string, unknown>> {
      const bytes = await request(
        method,
        path,
        signal,
        body === undefined ? undefined : { type: 'application/json', bytes: JSON.stringify(body) },
      );
      const value: unknown = JSON.parse(bytes.toString('utf8'));
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new BatchApiError(`${method} ${path} answered something that is not a JSON object`);
      return value as Record<string, unknown>;
    },
  };
}

/** The lines of a JSONL result file, each a JSON object (a line that is not one is skipped). */
export function jsonLines(bytes: Buffer): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const line of bytes.toString('utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      const value: unknown = JSON.parse(line);
      if (typeof value === 'object' && value !== null && !Array.isArray(value))
        lines.push(value as Record<string, unknown>);
    } catch {
      // An unreadable line answers nothing: its item ends as failed, with no answer.
    }
  }
  return lines;
}
