import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Approver } from '../../src/mcp/approval.js';
import { createBridge } from '../../src/mcp/bridge.js';
import { type HttpBridge, serveHttp } from '../../src/mcp/http.js';
import { CONNECTION_CLOSED } from '../../src/mcp/jsonrpc.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { loadPolicies } from '../../src/policy/load.js';
import { lightUpstream, type TestReceipts, testReceipts } from './helpers.js';
import { RAW_SERVER } from './raw-harness.js';

/**
 * A call still being decided when its session ends (here: waiting for a
 * person's approval; under load also the bridge's first tools/list of the
 * server) was withdrawn as if the client had cancelled it: recorded, never
 * answered, and the POST's stream closed empty. Its caller now hears why,
 * with the receipt, before the stream closes.
 */

const ACCEPT = 'application/json, text/event-stream';

let receipts: TestReceipts;
let http: HttpBridge;
let asked: () => void;
const approvalAsked = new Promise<void>((resolve) => {
  asked = resolve;
});

/** Stands in for the person at the approval desk: asked, never answers; gives up when the call is withdrawn. */
const silentDesk: Approver = {
  approve: (_request, _channels, signal) =>
    new Promise((_resolve, reject) => {
      asked();
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
    }),
};

beforeAll(async () => {
  receipts = await testReceipts();
  const bridge = createBridge({
    upstream: lightUpstream('raw', [RAW_SERVER]),
    receipts,
    policy: new PolicyEngine(loadPolicies('@id("all") permit(principal, action, resource);')),
    approval: { tools: ['echo'], approver: silentDesk },
  });
  http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, clientAuth: 'none' });
});

afterAll(async () => {
  await http.close();
  await receipts.close();
});

function post(body: unknown, sessionId?: string): Promise<Response> {
  return fetch(http.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: ACCEPT,
      ...(sessionId === undefined ? {} : { 'mcp-session-id': sessionId }),
    },
    body: JSON.stringify(body),
  });
}

describe('--http: a session that ends while a call is being decided', () => {
  it('answers the call with CONNECTION_CLOSED and its receipt, never sending it', async () => {
    const init = await post({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
    });
    const id = init.headers.get('mcp-session-id') ?? '';
    await init.text();
    await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, id)).text();

    const call = post(
      { jsonrpc: '2.0', id: 'c', method: 'tools/call', params: { name: 'echo', arguments: { a: 1 } } },
      id,
    );
    await approvalAsked;
    const ended = await fetch(http.url, { method: 'DELETE', headers: { 'mcp-session-id': id } });
    expect(ended.status).toBe(200);

    const answer = (await (await call).text()).trim();
    // JSON or one SSE event: either way the one answer of id "c".
    const message = JSON.parse(answer.startsWith('{') ? answer : answer.replace(/^[\s\S]*?data: /, '')) as {
      id: string;
      error?: { code: number; message: string; data?: Record<string, unknown> };
    };
    expect(message.id).toBe('c');
    expect(message.error?.code).toBe(CONNECTION_CLOSED);
    expect(message.error?.message).toContain('session closed before the call was sent');
    expect(message.error?.data?.['oacp/receipt']).toBeDefined();

    const record = receipts.records.find((r) => r.tool === 'echo');
    expect(record?.outcome).toBe('cancelled');
    expect(record?.forwarded).toBe(false);
  });
});
