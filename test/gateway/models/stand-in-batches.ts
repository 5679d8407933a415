/**
 * STAND-IN FOR A REMOTE LLM PROVIDER'S BATCH APIs (see stand-in-provider.ts):
 * OpenAI's (POST /v1/files with a JSONL file of purpose "batch", POST
 * /v1/batches, GET /v1/batches/{id}, GET /v1/files/{id}/content) and
 * Anthropic's Message Batches (POST /v1/messages/batches, GET
 * /v1/messages/batches/{id}, GET /v1/messages/batches/{id}/results). A batch
 * is "in progress" on its first poll and ends on the second; each of its
 * requests is answered by the stand-in's own endpoint (a real HTTP request
 * to itself, marked `x-stand-in-batch: 1`), so queued behaviours apply to
 * batch items too. The key each call carried is recorded; `refuseNext`
 * makes the next submission fail with a 500 that quotes the key.
 */
import type { ServerResponse } from 'node:http';

interface Batch {
  readonly kind: 'openai' | 'anthropic';
  readonly requests: { custom_id: string; url: string; body: unknown }[];
  polls: number;
  output?: string;
  cancelled?: boolean;
}

export interface BatchCall {
  readonly method: string;
  readonly path: string;
  readonly key: string;
}

export class StandInBatches {
  readonly #files = new Map<string, string>();
  readonly #batches = new Map<string, Batch>();
  readonly calls: BatchCall[] = [];
  /** Refuse the next batch submission (HTTP 500, nothing stored). */
  refuseNext = false;
  /** Batches stay in progress (polls never end them) while this is true; a cancel still ends them. */
  hold = false;
  #next = 0;

  constructor(private readonly base: () => string) {}

  handles(method: string, url: string): boolean {
    return (
      (method === 'POST' &&
        (url === '/v1/files' ||
          url === '/v1/batches' ||
          url === '/v1/messages/batches' ||
          /^\/v1\/(messages\/)?batches\/[^/]+\/cancel$/.test(url))) ||
      (method === 'GET' &&
        (url.startsWith('/v1/batches/') ||
          url.startsWith('/v1/files/') ||
          url.startsWith('/v1/messages/batches/')))
    );
  }

  async answer(method: string, url: string, key: string, body: Buffer, res: ServerResponse): Promise<void> {
    this.calls.push({ method, path: url, key });
    if (method === 'POST' && this.refuseNext) {
      this.refuseNext = false;
      return json(res, 500, {
        error: { message: `stand-in refused the batch (key ${key})`, type: 'server_error' },
      });
    }
    const cancel = /^\/v1\/(?:messages\/)?batches\/([^/]+)\/cancel$/.exec(url);
    if (method === 'POST' && cancel !== null) {
      const batch = this.#batches.get(cancel[1] ?? '');
      if (batch === undefined)
        return json(res, 404, { error: { message: 'no such batch', type: 'not_found_error' } });
      batch.cancelled = true;
      return json(res, 200, { id: cancel[1], status: 'cancelling' });
    }
    if (method === 'POST' && url === '/v1/files') {
      const id = `file-${this.#next++}`;
      this.#files.set(id, fileOf(body));
      return json(res, 200, { id, object: 'file', purpose: 'batch', bytes: body.length });
    }
    if (method === 'POST' && url === '/v1/batches') {
      const request = JSON.parse(body.toString('utf8')) as { input_file_id: string; endpoint: string };
      const file = this.#files.get(request.input_file_id);
      if (file === undefined)
        return json(res, 404, { error: { message: 'no such file', type: 'invalid_request_error' } });
      const id = `batch_${this.#next++}`;
      const requests = file
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Batch['requests'][number]);
      this.#batches.set(id, { kind: 'openai', requests, polls: 0 });
      return json(res, 200, { id, object: 'batch', endpoint: request.endpoint, status: 'validating' });
    }
    if (method === 'POST' && url === '/v1/messages/batches') {
      const request = JSON.parse(body.toString('utf8')) as {
        requests: { custom_id: string; params: unknown }[];
      };
      const id = `msgbatch_${this.#next++}`;
      this.#batches.set(id, {
        kind: 'anthropic',
        requests: request.requests.map((r) => ({
          custom_id: r.custom_id,
          url: '/v1/messages',
          body: r.params,
        })),
        polls: 0,
      });
      return json(res, 200, { id, type: 'message_batch', processing_status: 'in_progress' });
    }
    const [, , area, id, tail] = url.split('/');
    if (area === 'files' && tail === 'content') {
      const file = this.#files.get(id ?? '');
      res.writeHead(file === undefined ? 404 : 200, { 'content-type': 'application/jsonl' });
      res.end(file ?? '');
      return;
    }
    const messageBatch = url.startsWith('/v1/messages/batches/');
    const batchId = messageBatch ? url.split('/')[4] : id;
    const batch = this.#batches.get(batchId ?? '');
    if (batch === undefined)
      return json(res, 404, { error: { message: 'no such batch', type: 'not_found_error' } });
    if (messageBatch && url.endsWith('/results')) {
      res.writeHead(200, { 'content-type': 'application/jsonl' });
      res.end(batch.output ?? '');
      return;
    }
    batch.polls += 1;
    if (batch.cancelled === true)
      return json(res, 200, {
        id: batchId,
        object: 'batch',
        status: 'cancelled',
        processing_status: 'ended',
      });
    if (batch.polls >= 2 && batch.output === undefined && !this.hold) batch.output = await this.#run(batch);
    const ended = batch.output !== undefined;
    if (batch.kind === 'anthropic')
      return json(res, 200, {
        id: batchId,
        type: 'message_batch',
        processing_status: ended ? 'ended' : 'in_progress',
      });
    let output: string | undefined;
    if (ended) {
      output = `file-${this.#next++}`;
      this.#files.set(output, batch.output ?? '');
    }
    return json(res, 200, {
      id: batchId,
      object: 'batch',
      status: ended ? 'completed' : 'in_progress',
      ...(output === undefined ? {} : { output_file_id: output }),
    });
  }

  /** Answers every request of the batch through the stand-in's own endpoints, as JSONL in the provider's format. */
  async #run(batch: Batch): Promise<string> {
    const lines: string[] = [];
    for (const request of batch.requests) {
      const answer = await fetch(`${this.base()}${request.url}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-stand-in-batch': '1' },
        body: JSON.stringify(request.body),
      });
      const body: unknown = await answer.json();
      lines.push(
        JSON.stringify(
          batch.kind === 'openai'
            ? {
                id: `batch_req_${lines.length}`,
                custom_id: request.custom_id,
                response: { status_code: answer.status, body },
                error: null,
              }
            : {
                custom_id: request.custom_id,
                result: answer.ok ? { type: 'succeeded', message: body } : { type: 'errored', error: body },
              },
        ),
      );
    }
    return `${lines.join('\n')}\n`;
  }
}

/** The `file` part of a multipart/form-data upload. */
function fileOf(body: Buffer): string {
  const text = body.toString('utf8');
  const start = text.indexOf('\r\n\r\n', text.indexOf('name="file"'));
  const end = text.lastIndexOf('\r\n--');
  return start === -1 || end === -1 ? '' : text.slice(start + 4, end);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}
