/**
 * STAND-IN FOR A REMOTE LLM PROVIDER. No model provider can be reached from
 * this machine, so the model-gateway tests run this small HTTP server that
 * speaks the OpenAI (Chat Completions, Embeddings) and Anthropic (Messages)
 * wire formats, streaming and usage included, and can be told to misbehave:
 * answer 429 or 500, answer slowly, send malformed JSON, cut a stream short,
 * ignore max_tokens, or count fewer tokens than o200k does ('dense-tokens':
 * words of several o200k tokens, one token each by its own count). A request
 * that offers tools gets a call of the first one (arguments
 * {"city":"Paris"}) unless its last message is a tool's answer. It records
 * what it received so tests can check what the gateway sent upstream
 * (clamped caps, injected keys). It also serves both batch APIs
 * (stand-in-batches.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type BatchCall, StandInBatches } from './stand-in-batches.js';

export type Behaviour =
  | 'ok'
  | '429'
  | '500'
  | 'slow'
  | 'malformed'
  | 'cut'
  | 'ignore-max-tokens'
  | 'dense-tokens'
  | 'echo-key'
  /** An OpenAI stream of 200 words, one every 20 ms (a client can go away in the middle). */
  | 'slow-stream'
  /** 401 with OpenAI's error body: the key it was sent is refused (revoked, rotated away). */
  | '401'
  /** A whole chat completion as indented JSON (what a gateway that re-serialises answers would change). */
  | 'pretty'
  /** An OpenAI stream with two calls of the offered tool whose fragments interleave (Paris, Rome). */
  | 'parallel-tools'
  /** A whole OpenAI answer whose usage is negative (a hostile provider crediting the budget back). */
  | 'negative-usage'
  /** A whole OpenAI answer holding 1e400, a number no double can hold. */
  | 'overflow'
  /** An embeddings answer whose usage is this raw JSON text (a hostile provider's counts). */
  | { readonly embeddingUsage: string }
  /** This exact JSON text as a 200 answer (or with `status`, after `delayMs`), whatever was asked (a hostile provider's shapes). */
  | { readonly rawAnswer: string; readonly status?: number; readonly delayMs?: number }
  /** This exact text as a 200 `text/event-stream` answer (a hostile provider's stream). */
  | { readonly rawStream: string };

export interface Received {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Record<string, unknown>;
}

export interface StandIn {
  readonly url: string;
  /** Streams whose client (the gateway) went away before the stand-in had sent it all. */
  readonly abandoned: () => number;
  readonly received: Received[];
  /** Calls to the batch APIs (stand-in-batches.ts), with the key each carried. */
  readonly batchCalls: BatchCall[];
  /** The next batch submission is refused (HTTP 500). */
  refuseNextBatch(): void;
  /** Batches stay in progress until this is called with false (or they are cancelled). */
  holdBatches(hold: boolean): void;
  /** Behaviours for the next requests, in order; 'ok' once the queue is empty. */
  queue(...behaviours: Behaviour[]): void;
  close(): Promise<void>;
}

const WORDS = [
  'The',
  ' gateway',
  ' relayed',
  ' this',
  ' answer',
  ' from',
  ' the',
  ' stand-in',
  ' provider',
  '.',
];

export async function startStandIn(name = 'stand-in'): Promise<StandIn> {
  const received: Received[] = [];
  let abandoned = 0;
  const pending: Behaviour[] = [];
  const batches = new StandInBatches(() => url);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        // Recorded as empty: the gateway never sends anything else, and a test would see it.
      }
      received.push({ path: req.url ?? '', headers: req.headers, body });
      // The models list (a health probe's target): answered at once, whatever is queued.
      if (req.method === 'GET' && (req.url ?? '').endsWith('/models')) {
        json(res, { object: 'list', data: [{ id: `${name}-model`, object: 'model', type: 'model' }] });
        return;
      }
      if (batches.handles(req.method ?? 'GET', req.url ?? '')) {
        const key = String(req.headers.authorization ?? req.headers['x-api-key'] ?? '');
        void batches.answer(req.method ?? 'GET', req.url ?? '', key, Buffer.concat(chunks), res);
        return;
      }
      const behaviour = pending.shift() ?? 'ok';
      res.once('close', () => {
        if (!res.writableFinished) abandoned += 1;
      });
      void answer(req.url ?? '', req.headers, body, behaviour, res, name);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    abandoned: () => abandoned,
    received,
    batchCalls: batches.calls,
    holdBatches: (hold) => {
      batches.hold = hold;
    },
    refuseNextBatch: () => {
      batches.refuseNext = true;
    },
    queue: (...behaviours) => pending.push(...behaviours),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function answer(
  path: string,
  headers: IncomingMessage['headers'],
  body: Record<string, unknown>,
  behaviour: Behaviour,
  res: ServerResponse,
  name: string,
): Promise<void> {
  if (behaviour === '429') {
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' });
    res.end(JSON.stringify({ error: { message: 'rate limited by the stand-in', type: 'rate_limit_error' } }));
    return;
  }
  if (behaviour === '500') {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'stand-in failure', type: 'server_error' } }));
    return;
  }
  if (behaviour === '401') {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } }),
    );
    return;
  }
  if (behaviour === 'echo-key') {
    const key = String(headers.authorization ?? headers['x-api-key'] ?? '');
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        error: { message: `Incorrect API key provided: ${key}`, type: 'invalid_request_error' },
      }),
    );
    return;
  }
  if (behaviour === 'negative-usage' || behaviour === 'overflow') {
    const usage =
      behaviour === 'overflow'
        ? '{"prompt_tokens":1e400,"completion_tokens":1,"total_tokens":1e400}'
        : '{"prompt_tokens":-100000,"completion_tokens":-50000,"total_tokens":-150000}';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      `{"id":"chatcmpl-standin","object":"chat.completion","created":1700000000,"model":"${String(body.model)}","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":${usage}}`,
    );
    return;
  }
  if (typeof behaviour === 'object' && 'rawStream' in behaviour) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(behaviour.rawStream);
    return;
  }
  if (typeof behaviour === 'object') {
    const delayMs = 'rawAnswer' in behaviour ? (behaviour.delayMs ?? 0) : 0;
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    res.writeHead('rawAnswer' in behaviour ? (behaviour.status ?? 200) : 200, {
      'content-type': 'application/json',
    });
    if ('rawAnswer' in behaviour) {
      res.end(behaviour.rawAnswer);
      return;
    }
    res.end(
      `{"object":"list","model":"${String(body.model)}","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2,0.3]}],"usage":${behaviour.embeddingUsage}}`,
    );
    return;
  }
  if (behaviour === 'slow') await new Promise((resolve) => setTimeout(resolve, 1500));
  if (behaviour === 'malformed') {
    res.writeHead(200, { 'content-type': body.stream === true ? 'text/event-stream' : 'application/json' });
    res.end(body.stream === true ? 'data: {not json\n\n' : '{"id": "x", "choices": [');
    return;
  }
  const model = `${String(body.model)}-served-by-${name}`;
  const cap = Number(body.max_completion_tokens ?? body.max_tokens ?? 1000);
  const words =
    behaviour === 'ignore-max-tokens' || behaviour === 'slow-stream'
      ? Array.from({ length: behaviour === 'slow-stream' ? 200 : 400 }, (_, i) => ` word${i}`)
      : behaviour === 'dense-tokens'
        ? Array.from({ length: cap }, () => ' Zzyzx')
        : WORDS.slice(0, Math.max(1, Math.min(cap, WORDS.length)));
  const tool = toolToCall(path, body);
  const promptTokens = 11;
  if (path.endsWith('/embeddings')) {
    const vector = [0.1, 0.2, 0.3];
    // As OpenAI does: base64 of little-endian float32s when asked (the official SDK asks by default).
    const embedding =
      body.encoding_format === 'base64'
        ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
        : vector;
    json(res, {
      object: 'list',
      model,
      data: [{ object: 'embedding', index: 0, embedding }],
      usage: { prompt_tokens: 5, total_tokens: 5 },
    });
    return;
  }
  if (path.endsWith('/v1/messages')) {
    if (body.stream !== true) {
      json(res, {
        id: 'msg_standin',
        type: 'message',
        role: 'assistant',
        model,
        content:
          tool === undefined
            ? [{ type: 'text', text: words.join('') }]
            : [
                { type: 'text', text: 'Calling.' },
                { type: 'tool_use', id: 'toolu_standin', name: tool, input: { city: 'Paris' } },
              ],
        stop_reason: tool === undefined ? 'end_turn' : 'tool_use',
        stop_sequence: null,
        usage: { input_tokens: promptTokens, output_tokens: tool === undefined ? words.length : 12 },
      });
      return;
    }
    sseHead(res);
    send(res, 'message_start', {
      type: 'message_start',
      message: {
        id: 'msg_standin',
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: promptTokens, output_tokens: 1 },
      },
    });
    send(res, 'content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    });
    if (tool !== undefined) {
      send(res, 'content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: 'Calling.' },
      });
      send(res, 'content_block_stop', { type: 'content_block_stop', index: 0 });
      send(res, 'content_block_start', {
        type: 'content_block_start',
        index: 1,
        content_block: { type: 'tool_use', id: 'toolu_standin', name: tool, input: {} },
      });
      for (const part of ['{"city":', ' "Paris"}'])
        send(res, 'content_block_delta', {
          type: 'content_block_delta',
          index: 1,
          delta: { type: 'input_json_delta', partial_json: part },
        });
      send(res, 'content_block_stop', { type: 'content_block_stop', index: 1 });
      send(res, 'message_delta', {
        type: 'message_delta',
        delta: { stop_reason: 'tool_use', stop_sequence: null },
        usage: { output_tokens: 12 },
      });
      send(res, 'message_stop', { type: 'message_stop' });
      res.end();
      return;
    }
    for (const [i, word] of words.entries()) {
      if (res.destroyed) return;
      send(res, 'content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: word },
      });
      if (behaviour === 'cut' && i === 2) {
        res.destroy();
        return;
      }
      await tick();
    }
    send(res, 'content_block_stop', { type: 'content_block_stop', index: 0 });
    send(res, 'message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: words.length },
    });
    send(res, 'message_stop', { type: 'message_stop' });
    res.end();
    return;
  }
  // OpenAI Chat Completions.
  if (body.stream !== true) {
    json(
      res,
      {
        id: 'chatcmpl-standin',
        object: 'chat.completion',
        created: 1_700_000_000,
        model,
        choices: [
          tool === undefined
            ? { index: 0, message: { role: 'assistant', content: words.join('') }, finish_reason: 'stop' }
            : {
                index: 0,
                message: {
                  role: 'assistant',
                  content: null,
                  tool_calls: [
                    {
                      id: 'call_standin',
                      type: 'function',
                      function: { name: tool, arguments: '{"city":"Paris"}' },
                    },
                  ],
                },
                finish_reason: 'tool_calls',
              },
        ],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: words.length,
          total_tokens: promptTokens + words.length,
        },
      },
      behaviour === 'pretty' ? 2 : undefined,
    );
    return;
  }
  sseHead(res);
  const chunk = (delta: Record<string, unknown>, finish: string | null, usage?: unknown) =>
    send(res, undefined, {
      id: 'chatcmpl-standin',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model,
      choices: usage === undefined ? [{ index: 0, delta, finish_reason: finish }] : [],
      ...(usage === undefined ? {} : { usage }),
    });
  chunk({ role: 'assistant', content: '' }, null);
  const includeUsage =
    (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  if (tool !== undefined && behaviour === 'parallel-tools') {
    const start = (index: number, id: string) =>
      chunk({ tool_calls: [{ index, id, type: 'function', function: { name: tool, arguments: '' } }] }, null);
    const part = (index: number, text: string) =>
      chunk({ tool_calls: [{ index, function: { arguments: text } }] }, null);
    start(0, 'call_paris');
    part(0, '{"city":');
    start(1, 'call_rome');
    part(1, '{"city":');
    part(0, ' "Paris"}');
    part(1, ' "Rome"}');
  } else if (tool !== undefined) {
    chunk(
      {
        tool_calls: [
          { index: 0, id: 'call_standin', type: 'function', function: { name: tool, arguments: '' } },
        ],
      },
      null,
    );
    for (const part of ['{"city":', ' "Paris"}'])
      chunk({ tool_calls: [{ index: 0, function: { arguments: part } }] }, null);
  }
  if (tool !== undefined) {
    chunk({}, 'tool_calls');
    if (includeUsage)
      chunk({}, null, {
        prompt_tokens: promptTokens,
        completion_tokens: 12,
        total_tokens: promptTokens + 12,
      });
    res.write('data: [DONE]\n\n');
    res.end();
    return;
  }
  for (const [i, word] of words.entries()) {
    if (res.destroyed) return;
    chunk({ content: word }, null);
    if (behaviour === 'cut' && i === 2) {
      res.destroy();
      return;
    }
    await (behaviour === 'slow-stream' ? new Promise((resolve) => setTimeout(resolve, 20)) : tick());
  }
  chunk({}, 'stop');
  if (includeUsage)
    chunk({}, null, {
      prompt_tokens: promptTokens,
      completion_tokens: words.length,
      total_tokens: promptTokens + words.length,
    });
  res.write('data: [DONE]\n\n');
  res.end();
}

/** The tool the stand-in "decides" to call: the first offered, unless the last message answers a tool. */
function toolToCall(path: string, body: Record<string, unknown>): string | undefined {
  const tools = Array.isArray(body.tools) ? (body.tools as Record<string, unknown>[]) : [];
  const first = tools[0];
  if (first === undefined || path.endsWith('/embeddings')) return undefined;
  const last = Array.isArray(body.messages)
    ? (body.messages.at(-1) as Record<string, unknown> | undefined)
    : undefined;
  const answersTool =
    last?.role === 'tool' ||
    (Array.isArray(last?.content) &&
      (last.content as { type?: string }[]).some((b) => b.type === 'tool_result'));
  if (answersTool) return undefined;
  const name = (first.function as { name?: unknown } | undefined)?.name ?? first.name;
  return typeof name === 'string' ? name : undefined;
}

function json(res: ServerResponse, value: unknown, indent?: number): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value, null, indent));
}

function sseHead(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
}

function send(res: ServerResponse, event: string | undefined, data: unknown): void {
  res.write(`${event === undefined ? '' : `event: ${event}\n`}data: ${JSON.stringify(data)}\n\n`);
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
