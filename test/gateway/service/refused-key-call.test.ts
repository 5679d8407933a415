import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OacpClient } from '../../../src/client/index.js';
import { jcsDigest } from '../../../src/core/jcs.js';
import { MANIFEST, raw, startGateway, type TestGateway } from './harness.js';
import { receiptPredicate } from './signed-call.js';

/**
 * Issue 10, gateway: a tool call made with an API key and refused before the
 * pipeline (a key without the scope, a key bound to another agent, a body
 * that is not a call, no agent or an unknown one, an agent not running) was
 * answered 400/403/404/409 and left no receipt. Each now has one receipt:
 * under the key's agent (or the agent the body names, for an operator's
 * key), else under the key's id, never the key itself. The answer is
 * unchanged and the tool does not run.
 */
describe('an API key tool call refused before the pipeline', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(async () => gw?.close());

  async function newAgent(name: string) {
    return gw.client.createAgent({ name, manifest: { ...MANIFEST, name } });
  }

  /** POSTs `body` to echo's call route with `key`; the answer's status, and the receipt it left. */
  async function refusedCall(key: string, body: string) {
    const log = gw.gateway.node.log;
    const size = log.size;
    const answer = await raw(gw.url, '/v1/tools/echo/call', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body,
    });
    expect(log.size).toBe(size + 1);
    const envelope = Buffer.from(await log.entry(size)).toString('utf8');
    // The receipt names the key by its id only.
    expect(Buffer.from(JSON.parse(envelope).payload, 'base64').toString('utf8')).not.toContain(key);
    return { status: answer.status, predicate: await receiptPredicate(gw, size) };
  }

  function idOf(key: string): string {
    return key.split('_')[1] ?? '';
  }

  it('attack: a key without tools:call naming an agent: 403, one receipt under that agent', async () => {
    const agent = await newAgent('scopeless-target');
    const key = await gw.keyWith(['agents:read']);
    const { status, predicate } = await refusedCall(
      key,
      JSON.stringify({ agent: agent.id, arguments: { text: 'x' } }),
    );
    expect(status).toBe(403);
    expect(predicate).toMatchObject({
      agent: { did: agent.id, clientId: expect.stringMatching(/^client:apikey:/) },
      tool: { name: 'echo' },
      argumentsDigest: jcsDigest({ text: 'x' }),
      outcome: 'denied',
      policy: { effect: 'deny', reason: expect.stringContaining('lacks scope tools:call') },
    });
  });

  it("attack: an agent's key calling as another agent: 403, one receipt under the key's own agent", async () => {
    const own = await newAgent('key-owner');
    const other = await newAgent('key-victim');
    const created = await gw.gateway.apiKeys.create({ scopes: ['tools:call'], agentId: own.id });
    const { status, predicate } = await refusedCall(
      created.key,
      JSON.stringify({ agent: other.id, arguments: { text: 'x' } }),
    );
    expect(status).toBe(403);
    expect(predicate).toMatchObject({
      agent: { did: own.id },
      outcome: 'denied',
      policy: { effect: 'deny', reason: expect.stringContaining('is bound to agent') },
    });
  });

  it("attack: an agent's key without the scope is recorded under its agent, not the one its body names", async () => {
    const own = await newAgent('scopeless-owner');
    const other = await newAgent('scopeless-victim');
    const created = await gw.gateway.apiKeys.create({ scopes: ['context:read'], agentId: own.id });
    const { status, predicate } = await refusedCall(
      created.key,
      JSON.stringify({ agent: other.id, arguments: { text: 'x' } }),
    );
    expect(status).toBe(403);
    expect(predicate).toMatchObject({ agent: { did: own.id }, outcome: 'denied' });
  });

  it("attack: an operator's key naming no agent, or one nobody has: one receipt under the key's id", async () => {
    const key = await gw.keyWith(['tools:call']);
    const none = await refusedCall(key, JSON.stringify({ arguments: { text: 'x' } }));
    expect(none.status).toBe(400);
    expect(none.predicate).toMatchObject({
      agent: { clientId: `apikey:${idOf(key)}` },
      outcome: 'denied',
      policy: { effect: 'deny', reason: expect.stringContaining('agent: required') },
    });
    const unknown = await refusedCall(key, JSON.stringify({ agent: 'nobody', arguments: { text: 'x' } }));
    expect(unknown.status).toBe(404);
    expect(unknown.predicate).toMatchObject({
      agent: { clientId: `apikey:${idOf(key)}` },
      policy: { effect: 'deny', reason: expect.stringContaining('no agent "nobody"') },
    });
  });

  it('attack: a body that is not JSON, and a suspended agent, with an API key: each receipted', async () => {
    const key = await gw.keyWith(['tools:call']);
    const broken = await refusedCall(key, '{"arguments": {"text": "x"');
    expect(broken.status).toBe(400);
    expect(broken.predicate).toMatchObject({ agent: { clientId: `apikey:${idOf(key)}` }, outcome: 'denied' });

    const agent = await newAgent('suspended-by-key');
    await gw.client.startAgent(agent.id);
    await gw.client.suspendAgent(agent.id);
    const suspended = await refusedCall(key, JSON.stringify({ agent: agent.id, arguments: { text: 'x' } }));
    expect(suspended.status).toBeGreaterThanOrEqual(400);
    expect(suspended.predicate).toMatchObject({
      agent: { did: agent.id },
      policy: { effect: 'deny', reason: expect.stringContaining('suspended') },
    });
  });

  it('the official client sees the same refusal, and a permitted call still runs', async () => {
    const agent = await newAgent('key-caller');
    const client = new OacpClient({ baseUrl: gw.url, apiKey: await gw.keyWith(['agents:read']) });
    await expect(client.callTool('echo', { text: 'x' }, { agent: agent.id })).rejects.toMatchObject({
      status: 403,
    });
    const ok = await gw.client.callTool('echo', { text: 'ok' }, { agent: agent.id });
    expect(ok.result).toEqual({ echoed: 'ok' });
  });

  it('an unauthenticated call (a key nobody issued) is a 401 and one receipt that never holds the key (docs/receipts.md)', async () => {
    const log = gw.gateway.node.log;
    const size = log.size;
    const answer = await raw(gw.url, '/v1/tools/echo/call', {
      method: 'POST',
      headers: { authorization: 'Bearer oacp_nobody_issued', 'content-type': 'application/json' },
      body: JSON.stringify({ arguments: { text: 'x' } }),
    });
    expect(answer.status).toBe(401);
    // Within a2a.refusal_receipts: test/gateway/service/unauthenticated-tool-call.test.ts floods it.
    expect(log.size).toBe(size + 1);
    const entry = Buffer.from(await log.entry(size)).toString('utf8');
    const payload = (JSON.parse(entry) as { payload: string }).payload;
    const receipt = Buffer.from(payload, 'base64').toString('utf8');
    expect(receipt).not.toContain('oacp_nobody_issued');
    expect(JSON.parse(receipt)).toMatchObject({
      predicate: { agent: { clientId: expect.stringMatching(/^(claimed:apikey:|unauthenticated$)/) } },
    });
  });
});
