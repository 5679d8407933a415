import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raw, type TestGateway } from '../gateway/service/harness.js';
import {
  CONSOLE_MANIFEST,
  type ConsoleGateway,
  readStream,
  type StandaloneBridge,
  startBridge,
  startConsoleGateway,
} from './console-gateway.js';

interface Listed {
  id: string;
  name: string;
  origin: string;
  request: { agent: string; arguments: Record<string, unknown> };
  hiddenArguments: string[];
}

/**
 * Approvals of a standalone bridge (`oacp mcp run --require-approval`, its
 * own process) decided through a gateway on the same home: listed and decided
 * over /v1/approvals like the gateway's own, the approver's key in the
 * bridge's receipt, argument values hidden unless the bridge lets them show.
 */
describe('approvals of a standalone bridge, decided at the gateway on its home', () => {
  let started: ConsoleGateway;
  let gw: TestGateway;
  let bridge: StandaloneBridge;
  const SECRET = 'sk-live-DO-NOT-SHOW-4711';

  beforeAll(async () => {
    started = await startConsoleGateway({
      prefix: 'oacp-console-bridge-',
      requireApproval: [],
      approvalTimeout: '5s',
    });
    gw = started.gw;
    bridge = await startBridge(
      gw.home,
      [
        '--name',
        'memory',
        '--require-approval',
        'create_entities',
        '--require-approval',
        'delete_entities',
        '--approval-show-arguments',
        'entityNames',
        '--approval-timeout',
        '3s',
        '--allow-env',
        'MEMORY_FILE_PATH',
      ],
      { MEMORY_FILE_PATH: join(started.dir, 'bridge-memory.jsonl') },
    );
  }, 60_000);

  afterAll(async () => {
    await bridge?.close();
    await started?.close();
  });

  const list = async (key = gw.adminKey) =>
    raw(gw.url, '/v1/approvals', { headers: { authorization: `Bearer ${key}` } });
  const decide = (id: string, key: string, body: unknown) =>
    raw(gw.url, `/v1/approvals/${id}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const waitForPending = async (): Promise<{ item: Listed; text: string }> => {
    for (let i = 0; i < 300; i++) {
      const listed = await list();
      const item = (listed.json as { pending: Listed[] }).pending.find((p) => p.origin === 'bridge');
      if (item !== undefined) return { item, text: listed.text };
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('the bridge call never became pending at the gateway');
  };
  const statementOf = async (result: unknown) => {
    const meta = (result as { _meta?: Record<string, { index?: number }> })._meta ?? {};
    const index = Object.values(meta).find((value) => typeof value?.index === 'number')?.index;
    if (index === undefined) throw new Error(`no receipt index in ${JSON.stringify(meta)}`);
    await gw.gateway.node.log.refresh();
    const envelope = JSON.parse(Buffer.from(await gw.gateway.node.log.entry(index)).toString('utf8'));
    return JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as {
      predicate: { approval?: Record<string, unknown>; policy?: Record<string, unknown> };
    };
  };

  it('attack: a secret argument value never reaches the HTTP response; approve it there and find the key in the receipt', async () => {
    const call = bridge.client.callTool({
      name: 'create_entities',
      arguments: { entities: [{ name: SECRET, entityType: 'token', observations: [] }] },
    });
    const { item, text } = await waitForPending();
    expect(item).toMatchObject({
      name: 'memory__create_entities',
      origin: 'bridge',
      request: { arguments: {} },
      hiddenArguments: ['entities'],
    });
    expect(text).not.toContain(SECRET);
    // Nor in the spool file the bridge left for the gateway.
    const spool = join(gw.home, 'approvals');
    for (const name of readdirSync(spool))
      expect(readFileSync(join(spool, name), 'utf8')).not.toContain(SECRET);

    const operator = await gw.keyWith(['approvals:decide']);
    const approved = await decide(item.id, operator, { approve: true, reason: 'rotating the token' });
    expect(approved.status).toBe(200);
    const result = await call;
    expect(result.isError).not.toBe(true);
    const operatorId = operator.split('_')[1];
    expect((await statementOf(result)).predicate.approval).toMatchObject({
      method: 'http',
      approvedBy: `http:api-key:${operatorId}`,
      reason: expect.stringContaining('rotating the token'),
    });
    // Decided once; the spool is empty again (the decision the bridge took goes shortly after it).
    expect((await decide(item.id, operator, { approve: false })).status).toBe(404);
    await expect.poll(() => readdirSync(spool), { timeout: 5_000 }).toEqual([]);
  });

  it("shows the fields the bridge lists; refuses an agent's key; a denial's reason reaches the caller", async () => {
    const asker = await gw.client.createAgent({ name: 'bridge-bystander', manifest: CONSOLE_MANIFEST });
    const agentKey = (await gw.gateway.apiKeys.create({ scopes: ['approvals:decide'], agentId: asker.id }))
      .key;
    const call = bridge.client.callTool({ name: 'delete_entities', arguments: { entityNames: ['alice'] } });
    const { item } = await waitForPending();
    expect(item.request.arguments).toEqual({ entityNames: ['alice'] });
    expect(item.hiddenArguments).toEqual([]);
    const refused = await decide(item.id, agentKey, { approve: true });
    expect(refused.status).toBe(403);
    expect(refused.text).toContain("operator's key");
    const noScope = await gw.keyWith(['audit:read']);
    expect((await decide(item.id, noScope, { approve: true })).status).toBe(403);
    expect((await list(noScope)).status).toBe(403);
    expect((await decide(item.id, gw.adminKey, { approve: false, reason: 'not today' })).status).toBe(200);
    const result = await call;
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain('not today');
    expect((await statementOf(result)).predicate.policy).toMatchObject({
      effect: 'deny',
      policyId: 'oacp/approval',
    });
  });

  it('denies with a reason and a receipt when nobody decides in time; a late decision finds nothing', async () => {
    const call = bridge.client.callTool({ name: 'delete_entities', arguments: { entityNames: ['late'] } });
    const { item } = await waitForPending();
    const result = await call;
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain('no approval within 3 s');
    expect((await statementOf(result)).predicate.policy).toMatchObject({
      effect: 'deny',
      policyId: 'oacp/approval',
    });
    expect((await decide(item.id, gw.adminKey, { approve: true })).status).toBe(404);
    expect((await list()).json).toEqual({ pending: [] });
  });

  it("streams a receipt another process (the bridge) appended to the home's log, woken by the log file changing", async () => {
    const stream = await readStream(new URL('/v1/receipts/stream', gw.url), gw.adminKey, 1);
    expect(stream.status).toBe(200);
    const result = await bridge.client.callTool({ name: 'read_graph', arguments: {} });
    const meta = (result as { _meta?: Record<string, { index?: number }> })._meta ?? {};
    const index = meta['oacp/receipt']?.index;
    await stream.done;
    expect(stream.events.map((event) => event.id)).toEqual([String(index)]);
  });
});
