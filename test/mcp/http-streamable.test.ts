import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBridge } from '../../src/mcp/bridge.js';
import { type HttpBridge, serveHttp } from '../../src/mcp/http.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { loadPolicies } from '../../src/policy/load.js';
import { lightUpstream, type TestReceipts, testClient, testReceipts, text } from './helpers.js';
import { RAW_SERVER } from './raw-harness.js';

/**
 * The node:http-native Streamable HTTP transport (src/mcp/http-streamable.ts):
 * the MCP SDK's own client works against it, a call's answer is JSON unless the
 * server sends something related first (then SSE), and every rule of the
 * transport the SDK's server enforced still holds, from outside, over HTTP.
 */

const ACCEPT = 'application/json, text/event-stream';
const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
};

let receipts: TestReceipts;
let http: HttpBridge;

beforeAll(async () => {
  receipts = await testReceipts();
  const bridge = createBridge({
    upstream: lightUpstream('raw', [RAW_SERVER]),
    receipts,
    policy: new PolicyEngine(loadPolicies('@id("all") permit(principal, action, resource);')),
  });
  http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, clientAuth: 'none' });
});

afterAll(async () => {
  await http.close();
  await receipts.close();
});

function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(http.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function session(): Promise<string> {
  const answer = await post(INITIALIZE);
  expect(answer.status).toBe(200);
  const id = answer.headers.get('mcp-session-id');
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  await answer.text();
  const initialized = await post(
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { 'mcp-session-id': id ?? '' },
  );
  expect(initialized.status).toBe(202);
  return id ?? '';
}

describe('--http: the native Streamable HTTP transport', () => {
  it('the official SDK client lists and calls tools; a sampling request mid-call rides on the call’s POST as SSE', async () => {
    const client = testClient({ sampling: {} });
    let sampled = 0;
    client.setRequestHandler(CreateMessageRequestSchema, async () => {
      sampled++;
      return { role: 'assistant', content: { type: 'text', text: 'sampled' }, model: 'm' };
    });
    const transport = new StreamableHTTPClientTransport(http.url);
    await client.connect(transport);
    try {
      expect(transport.sessionId).toBeDefined();
      const tools = await client.listTools();
      expect(tools.tools.map((t) => t.name)).toContain('echo');
      const echoed = await client.callTool({ name: 'echo', arguments: { a: 1 } });
      expect(text(echoed)).toBe('{"a":1}');
      const sample = await client.callTool({ name: 'sample', arguments: {} });
      expect(sampled).toBe(1);
      expect(text(sample)).toContain('sampled');
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  it('a request is answered as application/json with the session id; a batch of two as an array; a notification alone as 202', async () => {
    const id = await session();
    const one = await post(
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { b: 2 } } },
      { 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' },
    );
    expect(one.status).toBe(200);
    expect(one.headers.get('content-type')).toBe('application/json');
    expect(one.headers.get('mcp-session-id')).toBe(id);
    const oneText = await one.text();
    expect(one.headers.get('content-length')).toBe(String(Buffer.byteLength(oneText)));
    expect(JSON.parse(oneText)).toMatchObject({
      jsonrpc: '2.0',
      id: 2,
      result: { content: [{ text: '{"b":2}' }] },
    });
    const batch = await post(
      [
        { jsonrpc: '2.0', id: 'x', method: 'ping' },
        { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: { c: 3 } } },
      ],
      { 'mcp-session-id': id },
    );
    const answers = (await batch.json()) as { id: unknown }[];
    expect(answers.map((a) => a.id)).toEqual(['x', 3]);
  });

  it('a call during which the server asks something is answered as SSE on its POST: the question, then (once answered) the result', async () => {
    const id = await session();
    const call = await post(
      { jsonrpc: '2.0', id: 'asks', method: 'tools/call', params: { name: 'sample', arguments: {} } },
      { 'mcp-session-id': id },
    );
    expect(call.headers.get('content-type')).toBe('text/event-stream');
    const reader = (call.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
    let events = '';
    const nextEvent = async (): Promise<Record<string, unknown>> => {
      for (;;) {
        const end = events.indexOf('\n\n');
        if (end >= 0) {
          const event = events.slice(0, end);
          events = events.slice(end + 2);
          const data = /^data: (.*)$/m.exec(event);
          if (data?.[1] !== undefined) return JSON.parse(data[1]) as Record<string, unknown>;
          continue;
        }
        const chunk = await reader.read();
        if (chunk.done) throw new Error('the stream ended before the event');
        events += chunk.value;
      }
    };
    const question = await nextEvent();
    expect(question).toMatchObject({ method: 'sampling/createMessage' });
    const answered = await post(
      {
        jsonrpc: '2.0',
        id: question.id,
        result: { role: 'assistant', content: { type: 'text', text: 'by hand' }, model: 'm' },
      },
      { 'mcp-session-id': id },
    );
    expect(answered.status).toBe(202);
    const result = await nextEvent();
    expect(result).toMatchObject({
      id: 'asks',
      result: { content: [{ text: expect.stringContaining('by hand') }] },
    });
    expect((await reader.read()).done).toBe(true);
  });

  it('attack: requests the transport must refuse get the status the spec names, and the session keeps serving', async () => {
    const id = await session();
    const cases: [string, () => Promise<Response>, number][] = [
      ['no Accept', () => post(INITIALIZE, { accept: 'application/json' }), 406],
      ['not JSON', () => post(INITIALIZE, { 'content-type': 'text/plain' }), 415],
      ['a new session that is not an initialize', () => post({ jsonrpc: '2.0', id: 9, method: 'ping' }), 400],
      ['a second initialize in the session', () => post(INITIALIZE, { 'mcp-session-id': id }), 400],
      [
        'an unsupported protocol version',
        () =>
          post(
            { jsonrpc: '2.0', id: 9, method: 'ping' },
            { 'mcp-session-id': id, 'mcp-protocol-version': '1999-01-01' },
          ),
        400,
      ],
      [
        'a batch of 101',
        () =>
          post(
            Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' })),
            { 'mcp-session-id': id },
          ),
        400,
      ],
      ['an empty batch', () => post([], { 'mcp-session-id': id }), 400],
      [
        'one id twice in a batch (its second answer could never be sent)',
        () =>
          post(
            [
              { jsonrpc: '2.0', id: 7, method: 'ping' },
              { jsonrpc: '2.0', id: 7, method: 'ping' },
            ],
            { 'mcp-session-id': id },
          ),
        400,
      ],
      ['not JSON-RPC', () => post({ jsonrpc: '1.0', id: 9, method: 'ping' }, { 'mcp-session-id': id }), 400],
      ['not JSON at all', () => post('{"jsonrpc":', { 'mcp-session-id': id }), 400],
      [
        'an unknown session',
        () => post({ jsonrpc: '2.0', id: 9, method: 'ping' }, { 'mcp-session-id': 'nobody' }),
        404,
      ],
      ['PUT', () => fetch(http.url, { method: 'PUT', headers: { 'mcp-session-id': id } }), 405],
      [
        'GET without text/event-stream',
        () => fetch(http.url, { headers: { 'mcp-session-id': id, accept: 'application/json' } }),
        406,
      ],
    ];
    for (const [name, send, status] of cases) {
      const answer = await send();
      expect(answer.status, name).toBe(status);
      const body = (await answer.json()) as { error?: { message?: unknown } };
      expect(typeof body.error?.message, name).toBe('string');
    }
    const ping = await post({ jsonrpc: '2.0', id: 'alive', method: 'ping' }, { 'mcp-session-id': id });
    expect(await ping.json()).toMatchObject({ id: 'alive', result: {} });
  });

  it('attack: a second POST reusing the id of a call still in flight is refused; the first still gets its answer when the session ends', async () => {
    const id = await session();
    const hanging = post(
      { jsonrpc: '2.0', id: 'h', method: 'tools/call', params: { name: 'hang', arguments: {} } },
      { 'mcp-session-id': id },
    );
    let reused: Response | undefined;
    const deadline = Date.now() + 10_000;
    // The first POST is in flight once a reuse of its id is refused.
    while (Date.now() < deadline) {
      reused = await post({ jsonrpc: '2.0', id: 'h', method: 'ping' }, { 'mcp-session-id': id });
      if (reused.status === 400) break;
      await reused.text();
    }
    expect(reused?.status).toBe(400);
    expect(JSON.stringify(await reused?.json())).toContain('already used by a request in flight');
    await fetch(http.url, { method: 'DELETE', headers: { 'mcp-session-id': id } });
    const first = await hanging;
    expect(await first.text()).toContain('"id":"h"');
  });

  it('GET opens the one server-to-client stream (a second is 409); DELETE ends the session, after which it is 404', async () => {
    const id = await session();
    const stream = await fetch(http.url, { headers: { 'mcp-session-id': id, accept: 'text/event-stream' } });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream');
    const second = await fetch(http.url, { headers: { 'mcp-session-id': id, accept: 'text/event-stream' } });
    expect(second.status).toBe(409);
    await second.text();
    const ended = await fetch(http.url, { method: 'DELETE', headers: { 'mcp-session-id': id } });
    expect(ended.status).toBe(200);
    // The standing stream ends with the session.
    expect(await stream.text()).toBe('');
    const after = await post({ jsonrpc: '2.0', id: 9, method: 'ping' }, { 'mcp-session-id': id });
    expect(after.status).toBe(404);
  });
});
