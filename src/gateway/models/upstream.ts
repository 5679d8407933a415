import { Pool } from 'undici';
import type { ProviderConfig } from './config.js';

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body as it arrives; read it to the end or call `dump()`. */
  readonly body: AsyncIterable<Buffer>;
  dump(): Promise<void>;
}

/**
 * One provider's HTTP client: a keep-alive connection pool (undici) to its
 * origin, with the provider's timeout applied to headers and to each gap in
 * the body. Paths are the wire format's own (`/chat/completions` under an
 * OpenAI-compatible base URL, `/v1/messages` under Anthropic's host).
 */
export class ProviderClient {
  readonly #pool: Pool;
  readonly #prefix: string;

  constructor(readonly config: ProviderConfig) {
    const url = new URL(config.base_url);
    this.#prefix = url.pathname.replace(/\/+$/, '');
    this.#pool = new Pool(url.origin, {
      connections: config.connections,
      keepAliveTimeout: 30_000,
      headersTimeout: config.timeout_ms,
      bodyTimeout: config.timeout_ms,
    });
  }

  async post(
    path: string,
    body: string,
    headers: Readonly<Record<string, string>>,
    signal?: AbortSignal,
  ): Promise<UpstreamResponse> {
    const response = await this.#pool.request({
      method: 'POST',
      path: `${this.#prefix}${path}`,
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body,
      ...(signal === undefined ? {} : { signal }),
    });
    return {
      status: response.statusCode,
      headers: response.headers,
      body: response.body as AsyncIterable<Buffer>,
      dump: () => response.body.dump(),
    };
  }

  /** Any request under the base URL (a provider's batch API: uploads, polls, result files), answered whole up to `limit` bytes. */
  async exchange(request: {
    readonly method: 'GET' | 'POST';
    readonly path: string;
    readonly headers: Readonly<Record<string, string>>;
    readonly body?: string | Buffer;
    readonly limit: number;
    readonly signal?: AbortSignal;
  }): Promise<{ status: number; body: Buffer }> {
    const response = await this.#pool.request({
      method: request.method,
      path: `${this.#prefix}${request.path}`,
      headers: { accept: 'application/json', ...request.headers },
      ...(request.body === undefined ? {} : { body: request.body }),
      ...(request.signal === undefined ? {} : { signal: request.signal }),
    });
    const body = await readBody(
      {
        status: response.statusCode,
        headers: response.headers,
        body: response.body as AsyncIterable<Buffer>,
        dump: () => response.body.dump(),
      },
      request.limit,
    );
    return { status: response.statusCode, body };
  }

  /** A GET under the base URL (the models list a health probe reads); the answer is read and dropped. */
  async probe(path: string, headers: Readonly<Record<string, string>>, timeoutMs: number): Promise<number> {
    const response = await this.#pool.request({
      method: 'GET',
      path: `${this.#prefix}${path}`,
      headers: { accept: 'application/json', ...headers },
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body.dump().catch(() => undefined);
    return response.statusCode;
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

/** Reads a whole (non-streamed) answer, refusing more than `limit` bytes. */
export async function readBody(response: UpstreamResponse, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.length;
    if (size > limit) {
      await response.dump().catch(() => undefined);
      throw new Error(`the provider's answer is larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * An answer already read (or whose reading failed, `failure`), readable again as it came: the
 * reader gets the same bytes, or the same error, as from the provider's own body.
 */
export function replayed(response: UpstreamResponse, read: Buffer | Error): UpstreamResponse {
  return {
    status: response.status,
    headers: response.headers,
    body: (async function* () {
      if (read instanceof Error) throw read;
      yield read;
    })(),
    dump: async () => undefined,
  };
}
