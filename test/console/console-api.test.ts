import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST, raw, type TestGateway } from '../gateway/service/harness.js';
import { CONSOLE_MANIFEST, type ConsoleGateway, readStream, startConsoleGateway } from './console-gateway.js';

describe('the console API: receipt stream, approvals, public keys', () => {
  let started: ConsoleGateway;
  let gw: TestGateway;
  let agent: { id: string };

  beforeAll(async () => {
    started = await startConsoleGateway({
      prefix: 'oacp-console-api-',
      requireApproval: ['create_entities', 'delete_entities'],
      approvalTimeout: '1s',
      showArguments: ['entityNames'],
    });
    gw = started.gw;
    agent = await gw.client.createAgent({ name: 'api-worker', manifest: CONSOLE_MANIFEST });
  }, 60_000);

  afterAll(async () => {
    await started?.close();
  });

  it('streams only the receipts that pass the filter, and resumes after Last-Event-ID', async () => {
    const stream = await readStream(new URL('/v1/receipts/stream?tool=add', gw.url), gw.adminKey, 2);
    expect(stream.status).toBe(200);
    await gw.client.callTool('echo', { text: 'not me' }, { agent: agent.id });
    const first = await gw.client.callTool('add', { a: 1, b: 2 }, { agent: agent.id });
    await gw.client.callTool('echo', { text: 'not me either' }, { agent: agent.id });
    const second = await gw.client.callTool('add', { a: 3, b: 4 }, { agent: agent.id });
    await stream.done;
    expect(stream.events).toEqual([
      { id: String(first.receipt.index), tool: 'add' },
      { id: String(second.receipt.index), tool: 'add' },
    ]);
    // A client that lost the connection after the first event gets the second again, and nothing older.
    const resumed = await readStream(new URL('/v1/receipts/stream?tool=add', gw.url), gw.adminKey, 1, {
      'last-event-id': String(first.receipt.index),
    });
    await resumed.done;
    expect(resumed.events).toEqual([{ id: String(second.receipt.index), tool: 'add' }]);
  });

  it('refuses a bad filter or start, naming the field, and a key without audit:read', async () => {
    const auth = { authorization: `Bearer ${gw.adminKey}` };
    const bad = await raw(gw.url, '/v1/receipts/stream?decision=maybe', { headers: auth });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('decision');
    const from = await raw(gw.url, '/v1/receipts/stream?from=-1', { headers: auth });
    expect(from.status).toBe(400);
    expect(from.text).toContain('from');
    const extra = await raw(gw.url, '/v1/receipts/stream?verbose=1', { headers: auth });
    expect(extra.status).toBe(400);
    const noScope = await gw.keyWith(['tools:call']);
    const refused = await raw(gw.url, '/v1/receipts/stream', {
      headers: { authorization: `Bearer ${noScope}` },
    });
    expect(refused.status).toBe(403);
  });

  it('lets one key hold at most 8 streams, so it cannot take every stream from other operators', async () => {
    const greedy = await gw.keyWith(['audit:read']);
    const open = (key: string) =>
      fetch(new URL('/v1/receipts/stream', gw.url), { headers: { authorization: `Bearer ${key}` } });
    const held = await Promise.all(Array.from({ length: 8 }, () => open(greedy)));
    expect(held.map((response) => response.status)).toEqual(Array(8).fill(200));
    const ninth = await open(greedy);
    expect(ninth.status).toBe(503);
    expect(ninth.headers.get('retry-after')).toBe('5');
    const someoneElse = await open(gw.adminKey);
    expect(someoneElse.status).toBe(200);
    await Promise.all([...held, someoneElse].map((response) => response.body?.cancel()));
  });

  const decide = (id: string, key: string, body: unknown) =>
    raw(gw.url, `/v1/approvals/${id}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  const waitForPending = async (): Promise<string> => {
    for (let i = 0; i < 200; i++) {
      const listed = await raw(gw.url, '/v1/approvals', {
        headers: { authorization: `Bearer ${gw.adminKey}` },
      });
      const pending = (listed.json as { pending: { id: string; name: string }[] }).pending;
      if (pending[0] !== undefined) {
        // Named as receipts and policies name it: one rule, <server>__<tool>.
        expect(pending[0].name).toMatch(/^memory__(create|delete)_entities$/);
        return pending[0].id;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('no call became pending');
  };

  it("refuses approvals from any agent's key, unknown ids and malformed bodies; a denial's reason reaches the receipt", async () => {
    const other = await gw.client.createAgent({ name: 'api-bystander', manifest: MANIFEST });
    const ownKey = (await gw.gateway.apiKeys.create({ scopes: ['approvals:decide'], agentId: agent.id })).key;
    const otherKey = (await gw.gateway.apiKeys.create({ scopes: ['approvals:decide'], agentId: other.id }))
      .key;
    const operator = await gw.keyWith(['approvals:decide']);
    const call = gw.client
      .callTool('memory__delete_entities', { entityNames: ['nobody'] }, { agent: agent.id })
      .catch((error: unknown) => error);
    const id = await waitForPending();

    const own = await decide(id, ownKey, { approve: true });
    expect(own.status).toBe(403);
    expect(own.text).toContain('cannot approve its own call');
    const theirs = await decide(id, otherKey, { approve: true });
    expect(theirs.status).toBe(403);
    expect(theirs.text).toContain("operator's key");
    expect((await decide(id, operator, { approve: 'yes' })).status).toBe(400);
    expect((await decide(id, operator, { approve: true, by: 'someone else' })).status).toBe(400);
    expect((await decide('00000000-0000-0000-0000-000000000000', operator, { approve: true })).status).toBe(
      404,
    );

    const denied = await decide(id, operator, { approve: false, reason: 'not on a Friday' });
    expect(denied.status).toBe(200);
    expect(await call).toMatchObject({ status: 403, message: expect.stringContaining('not on a Friday') });
    // Decided once: a second answer finds nothing waiting.
    expect((await decide(id, operator, { approve: true })).status).toBe(404);
  });

  it('attack: a secret in an argument the server does not list never reaches GET /v1/approvals', async () => {
    const secret = 'sk-live-GATEWAY-SECRET-0815';
    const call = gw.client
      .callTool(
        'memory__create_entities',
        { entities: [{ name: secret, entityType: 'token', observations: [] }] },
        { agent: agent.id },
      )
      .catch((error: unknown) => error);
    await waitForPending();
    const listed = await raw(gw.url, '/v1/approvals', {
      headers: { authorization: `Bearer ${gw.adminKey}` },
    });
    expect(listed.text).not.toContain(secret);
    expect((listed.json as { pending: unknown[] }).pending[0]).toMatchObject({
      origin: 'gateway',
      request: { arguments: {} },
      hiddenArguments: ['entities'],
    });
    await call;
    // A field the server lists (approval_show_arguments: [entityNames]) is shown.
    const shown = gw.client
      .callTool('memory__delete_entities', { entityNames: ['carol'] }, { agent: agent.id })
      .catch((error: unknown) => error);
    await waitForPending();
    const again = await raw(gw.url, '/v1/approvals', { headers: { authorization: `Bearer ${gw.adminKey}` } });
    expect((again.json as { pending: unknown[] }).pending[0]).toMatchObject({
      request: { arguments: { entityNames: ['carol'] } },
      hiddenArguments: [],
    });
    await shown;
  });

  it('denies a call nobody decides within approval_timeout', async () => {
    const refusal = await gw.client
      .callTool(
        'memory__create_entities',
        { entities: [{ name: 'x', entityType: 'y', observations: [] }] },
        { agent: agent.id },
      )
      .catch((error: unknown) => error);
    expect(refusal).toMatchObject({
      status: 403,
      message: expect.stringContaining('no approval within 1 s'),
    });
    const listed = await raw(gw.url, '/v1/approvals', {
      headers: { authorization: `Bearer ${gw.adminKey}` },
    });
    expect(listed.json).toEqual({ pending: [] });
  });

  it('publishes the log key and Airlock keys the receipts verify under', async () => {
    const keys = (await raw(gw.url, '/v1/log/keys')).json as {
      origin: string;
      logKey: string;
      airlockKeys: string[];
    };
    expect(keys.logKey).toBe(gw.gateway.node.log.verifierKey);
    expect(keys.logKey.startsWith(`${keys.origin}+`)).toBe(true);
    expect(keys.airlockKeys).toEqual([
      Buffer.from(gw.gateway.node.keys.airlockSigner().publicKey).toString('base64'),
    ]);
  });
});
