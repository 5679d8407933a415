import { AgentCard } from '@a2a-js/sdk';
import { ClientFactory, JsonRpcTransportFactory } from '@a2a-js/sdk/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INVALID_REQUEST } from '../../src/a2a/request-schema.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { MAX_REQUEST_HEADERS } from '../../src/core/header-count.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { rawExchange } from '../gateway/http/raw-socket.js';
import { startNode, type TestNode } from './harness.js';
import { DECLARED, signedRequest } from './signed-message.js';

const caller = keySigner(generateEd25519().privateKey);

/** The status and JSON body of an answer read off a raw socket (the listener closes after it). */
function parsed(answer: string): { status: number; body: unknown } {
  const split = answer.indexOf('\r\n\r\n');
  const head = answer.slice(0, split);
  let body = answer.slice(split + 4);
  if (/^transfer-encoding: chunked$/im.test(head)) {
    let text = '';
    for (let at = 0; ; ) {
      const line = body.indexOf('\r\n', at);
      const size = Number.parseInt(body.slice(at, line), 16);
      if (!(size > 0)) break;
      text += body.slice(line + 2, line + 2 + size);
      at = line + 2 + size + 2;
    }
    body = text;
  }
  return { status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1]), body: JSON.parse(body) };
}

/**
 * The gateway's listener refuses some requests before its app reads them (too many header fields,
 * a repeated Host or credential header, an Expect it cannot meet, a request-target no URL can be
 * built from). On an A2A JSON-RPC endpoint those refusals are JSON-RPC errors too (A2A §9,
 * JSON-RPC 2.0 §5; docs/a2a.md "Errors"), id null since no body was read, the HTTP status kept;
 * anywhere else they stay the gateway's JSON errors.
 */
describe('A2A: the listener refuses in JSON-RPC before the app runs', () => {
  let node: TestNode;
  let url: URL;
  let alice: { did: string };
  const body = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'SendMessage', params: {} });
  const post = (target: string, headers: string) =>
    `POST ${target} HTTP/1.1\r\n${headers}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const many = Array.from({ length: MAX_REQUEST_HEADERS + 20 }, (_, i) => `x-${i}: a\r\n`).join('');
  const refusals = (host: string) => ({
    'too many header fields': {
      request: post('/a2a/alice', `Host: ${host}\r\n${many}`),
      status: 431,
      code: 'HEADERS_TOO_LARGE',
    },
    'the Host header twice': {
      request: post('/a2a/alice', `Host: ${host}\r\nHost: evil.example\r\n`),
      status: 400,
      code: 'BAD_REQUEST',
    },
    'an Expect other than 100-continue': {
      request: post('/a2a/alice', `Host: ${host}\r\nExpect: 200-ok\r\n`),
      status: 417,
      code: 'EXPECTATION_FAILED',
    },
    'a backslash in the request-target': {
      request: post('/a2a\\alice', `Host: ${host}\r\n`),
      status: 400,
      code: 'BAD_REQUEST',
    },
  });

  beforeAll(async () => {
    node = await startNode([{ from: didKeyFromPublicKey(caller.publicKey), to: 'alice' }]);
    alice = await node.agent('alice');
    url = new URL(node.url);
  });
  afterAll(async () => node?.close());

  it('attack: each refusal made before the app on POST /a2a/<agent> is a JSON-RPC error with id null and its status', async () => {
    for (const [name, attack] of Object.entries(refusals(url.host))) {
      const answer = parsed(await rawExchange(url, attack.request, { timeoutMs: 30_000 }));
      expect(answer.status, name).toBe(attack.status);
      expect(answer.body, name).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: INVALID_REQUEST } });
      expect((answer.body as { error: { message: string } }).error.message, name).toMatch(
        new RegExp(`^${attack.code}: `),
      );
    }
  });

  it('the same refusals elsewhere stay the gateway JSON errors', async () => {
    for (const [name, attack] of Object.entries(refusals(url.host))) {
      const request = attack.request
        .replace(/^POST \/a2a\/alice/, 'POST /v1/agents')
        .replace(/^POST \/a2a\\alice/, 'POST /v1\\agents');
      const answer = parsed(await rawExchange(url, request, { timeoutMs: 30_000 }));
      expect(answer.status, name).toBe(attack.status);
      expect(answer.body, name).toMatchObject({ error: { code: attack.code } });
    }
  });

  it('attack: the official @a2a-js/sdk client sending too many header fields gets a JSON-RPC error it can read', async () => {
    const card = AgentCard.fromJSON(
      await (await fetch(`${node.url}/a2a/alice/.well-known/agent-card.json`)).json(),
    );
    const flooding: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers);
      for (let i = 0; i < MAX_REQUEST_HEADERS + 20; i++) headers.set(`x-${i}`, 'a');
      return fetch(input, { ...init, headers });
    };
    const client = await new ClientFactory({
      transports: [new JsonRpcTransportFactory({ fetchImpl: flooding })],
    }).createFromAgentCard(card);
    const error = await client.sendMessage(signedRequest(caller, alice.did, 'hello'), DECLARED).then(
      () => undefined,
      (thrown: unknown) =>
        thrown as { name: string; message: string; envelopeCode?: number; errorResponse?: { id: unknown } },
    );
    // The SDK's typed error for -32600 (A2A §9.4), read from the JSON-RPC answer, not an HTTP failure.
    expect(error).toMatchObject({ name: 'RequestMalformedError', envelopeCode: INVALID_REQUEST });
    expect(error?.message).toMatch(/^HEADERS_TOO_LARGE: more than 200 header fields/);
  });
});
