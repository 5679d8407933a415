import type { AuditEntry, AuditPage } from '../audit-entry.js';
import { SseParser } from './sse.js';

export type { AuditEntry, AuditPage };

export interface Filter {
  readonly agent?: string;
  readonly tool?: string;
  readonly decision?: string;
  readonly since?: string;
}

/** A failed API call: the gateway's error code and message, shown as is. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The console's only way to the gateway: its public HTTP API with the
 * operator's API key, so the console can do nothing the key may not.
 */
export class ConsoleApi {
  constructor(private readonly key: string) {}

  async get<T>(path: string): Promise<T> {
    return this.#json<T>(await fetch(path, { headers: this.#headers(), cache: 'no-store' }));
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return this.#json<T>(
      await fetch(path, {
        method: 'POST',
        headers: { ...this.#headers(), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    );
  }

  async text(path: string): Promise<string> {
    const response = await fetch(path, { headers: this.#headers(), cache: 'no-store' });
    if (!response.ok) await this.#json(response);
    return response.text();
  }

  /** Reads GET /v1/receipts/stream until `signal` aborts; resolves when the stream ends. */
  async stream(filter: Filter, onEntry: (entry: AuditEntry) => void, signal: AbortSignal): Promise<void> {
    const response = await fetch(`/v1/receipts/stream${query(filter)}`, { headers: this.#headers(), signal });
    if (!response.ok || response.body === null) {
      await this.#json(response);
      return;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      for (const event of parser.push(value)) {
        if (event.event === 'receipt') onEntry(JSON.parse(event.data) as AuditEntry);
      }
    }
  }

  #headers(): Record<string, string> {
    return { authorization: `Bearer ${this.key}` };
  }

  async #json<T>(response: Response): Promise<T> {
    const text = await response.text();
    let body: unknown;
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      body = {};
    }
    if (!response.ok) {
      const error = (body as { error?: { code?: string; message?: string } }).error;
      throw new ApiError(
        response.status,
        error?.code ?? String(response.status),
        error?.message ?? response.statusText,
      );
    }
    return body as T;
  }
}

export function query(filter: Filter & { before?: number; limit?: number }): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(filter)) {
    if (value !== undefined && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}
