import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_DEPTH } from '../../../src/gateway/http/env.js';
import { signRequest } from '../../../src/identity/signed-request.js';
import { MANIFEST, raw } from '../service/harness.js';
import { receiptPredicate } from '../service/signed-call.js';
import { useGateway } from '../service/use-gateway.js';

const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const nestedObject = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

/**
 * The attack: JSON nested thousands of levels deep in every body that carries
 * a caller's value (a context value, tool arguments, run input). Parsing copes;
 * what comes after (digests for receipts, policy contexts, the sandbox
 * boundary) recursed and answered 500. The body is refused at the boundary
 * with 400 and a message saying what to fix, and nothing is executed.
 */
describe('deep and malformed input is a 400, never a 500', () => {
  let agent: { id: string; name: string };
  let headers: Record<string, string>;
  const gw = useGateway();
  beforeAll(async () => {
    agent = await gw.client.createAgent({
      name: 'deep',
      manifest: MANIFEST,
      code: 'function main(input) { return typeof input; }',
    });
    await gw.client.startAgent(agent.id);
    headers = { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' };
  });

  const id = () => encodeURIComponent(agent.id);
  const bodies = (value: string) => [
    { method: 'PUT', path: () => `/v1/agents/${id()}/context/deep`, body: `{"value": ${value}}` },
    { method: 'POST', path: () => '/v1/tools/echo/call', body: `{"agent": "deep", "arguments": ${value}}` },
    { method: 'POST', path: () => `/v1/agents/${id()}/run`, body: `{"input": ${value}}` },
  ];

  for (const depth of [MAX_BODY_DEPTH, 3_000, 100_000]) {
    it(`refuses a value nested ${depth} levels (context value, tool arguments, run input)`, async () => {
      const logSize = gw.gateway.node.log.size;
      for (const value of [nested(depth), nestedObject(depth)]) {
        for (const { method, path, body } of bodies(value)) {
          const answer = await raw(gw.url, path(), { method, headers, body });
          expect(answer.status, `${method} ${path()}`).toBe(400);
          expect(answer.json, `${method} ${path()}`).toMatchObject({
            error: {
              code: 'BAD_REQUEST',
              message: `the request body nests more than ${MAX_BODY_DEPTH} levels deep (the limit)`,
            },
          });
        }
      }
      // Refused before anything ran: nothing stored, no run; each refused tool call (one per
      // shape) is an authenticated caller's refusal, so it has its receipt (docs/gateway.md), under
      // the key's id: a body too deep to read names no agent.
      const log = gw.gateway.node.log;
      expect(log.size).toBe(logSize + 2);
      for (const index of [logSize, logSize + 1]) {
        expect(await receiptPredicate(gw, index)).toMatchObject({
          agent: { clientId: `apikey:${gw.adminKey.split('_')[1]}` },
          tool: { name: 'echo' },
          outcome: 'denied',
          policy: { effect: 'deny', reason: expect.stringContaining(`more than ${MAX_BODY_DEPTH} levels`) },
        });
      }
      expect(await gw.gateway.services.context.get(agent.id, 'deep', 'test')).toBeUndefined();
    });
  }

  it('refuses a deep A2A message (a public route) before the A2A server parses it, in JSON-RPC (-32046, docs/a2a.md)', async () => {
    const deep = nested(100_000);
    const answer = await raw(gw.url, '/a2a/deep', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"messageId":"m","role":"user","parts":[{"kind":"text","text":"hi"}],"metadata":{"x":${deep}}}}}`,
    });
    // The A2A pipeline's shape refusal, with its receipt (test/a2a/deep-body.test.ts), not the gateway's 400.
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32046 } });
    expect(answer.text).toContain(
      `OACP_MESSAGE_LIMITS: the request body nests more than ${MAX_BODY_DEPTH} levels deep`,
    );
    expect(answer.text).not.toContain('call stack');
  });

  it('accepts a value just within the limit', async () => {
    const value = nested(MAX_BODY_DEPTH - 1);
    const put = await raw(gw.url, `/v1/agents/${id()}/context/within`, {
      method: 'PUT',
      headers,
      body: `{"value": ${value}}`,
    });
    expect(put.status).toBe(200);
    const run = await raw(gw.url, `/v1/agents/${id()}/run`, {
      method: 'POST',
      headers,
      body: `{"input": ${value}}`,
    });
    expect(run.status).toBe(200);
    expect(run.json).toMatchObject({ value: 'object' });
  });

  it('refuses a deep body in a signed request from the agent itself the same way', async () => {
    const signer = await gw.gateway.services.agents.signer(agent.id);
    if (signer === undefined) throw new Error('no signer');
    const path = `/v1/agents/${id()}/context/deep`;
    const body = `{"value": ${nested(5_000)}}`;
    const signed = signRequest(signer, { purpose: `PUT ${path}`, payload: body });
    const answer = await raw(gw.url, path, {
      method: 'PUT',
      headers: {
        'content-type': 'application/json',
        'oacp-signed-request': Buffer.from(JSON.stringify(signed)).toString('base64url'),
      },
      body,
    });
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ error: { message: expect.stringContaining('levels deep') } });
  });

  it('refuses other bodies that are not the JSON asked for with 400 naming the problem', async () => {
    const cases: Array<{ body: string | Uint8Array; message: string }> = [
      { body: '{"value": ', message: 'the request body is not valid JSON' },
      { body: '{"value": 1} trailing', message: 'the request body is not valid JSON' },
      { body: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), message: 'not UTF-8' },
      { body: '[1, 2]', message: 'body' },
      { body: '"text"', message: 'body' },
      { body: '{"value": 1, "extra": true}', message: 'extra' },
      { body: '{"value": 1e400}', message: 'too large for a double (at "value")' },
    ];
    for (const { body, message } of cases) {
      const answer = await fetch(new URL(`/v1/agents/${id()}/context/odd`, gw.url), {
        method: 'PUT',
        headers,
        body,
      });
      const json = (await answer.json()) as { error: { code: string; message: string } };
      expect(answer.status, String(body)).toBe(400);
      expect(json.error.message, String(body)).toContain(message);
    }
  });

  it('answers tool arguments and run input that no JSON can hold with 400', async () => {
    const call = await raw(gw.url, '/v1/tools/echo/call', {
      method: 'POST',
      headers,
      body: '{"agent": "deep", "arguments": {"text": 1e400}}',
    });
    expect(call.status).toBe(400);
    const run = await raw(gw.url, `/v1/agents/${id()}/run`, {
      method: 'POST',
      headers,
      body: '{"input": {"n": 1e400}}',
    });
    expect(run.status).toBe(400);
  });
});
