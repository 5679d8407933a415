import { afterAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../../src/gateway/config/load.js';
import { createGateway, type Gateway } from '../../../src/gateway/gateway.js';
import { silentLogger } from '../../../src/gateway/observability/logger.js';
import { raw, startGateway, type TestGateway, testTools } from './harness.js';
import { signedToolCall } from './signed-call.js';

/** One receipt of a gateway's own log: its DSSE envelope's signatures and its in-toto predicate. */
async function receiptAt(gateway: Gateway, index: number) {
  const text = Buffer.from(await gateway.node.log.entry(index)).toString('utf8');
  const envelope = JSON.parse(text) as { payload: string; signatures: unknown[] };
  const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as {
    predicate: {
      agent: { did?: string; clientId?: string };
      tool: { name: string };
      policy: { effect: string; reason: string };
    };
  };
  return { text, signatures: envelope.signatures.length, predicate: statement.predicate };
}

async function receiptsFrom(gateway: Gateway, from: number) {
  const all = [];
  for (let index = from; index < gateway.node.log.size; index++) all.push(await receiptAt(gateway, index));
  return all;
}

/**
 * Tool calls refused by authentication over HTTP (`POST /v1/tools/:name/call`
 * without valid credentials): anyone can send them, so each gets a receipt
 * only within `a2a.refusal_receipts` (per client address and overall), the
 * rest are summed up in one receipt; their `auth_failed` security-event rows
 * are bounded the same way. The presented key never reaches the log.
 */
describe('unauthenticated tool calls over HTTP', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('attack: 1,000 calls with a wrong key leave bounded receipts, one summary, bounded event rows', async () => {
    const gw = await startGateway();
    let closed = false;
    cleanup.push(async () => {
      if (!closed) await gw.gateway.close();
    });
    const keyId = gw.adminKey.split('_')[1] ?? '';
    const wrongSecret = `Zz9${'q'.repeat(40)}`;
    const presented = `oacp_${keyId}_${wrongSecret}`;
    const before = gw.gateway.node.log.size;
    const eventsBefore = (await gw.gateway.store.securityEvents.list({ kind: 'auth_failed' })).length;
    const started = performance.now();
    const total = 1000;
    for (let sent = 0; sent < total; sent += 20) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, () =>
          raw(gw.url, '/v1/tools/echo/call', {
            method: 'POST',
            headers: { authorization: `Bearer ${presented}`, 'content-type': 'application/json' },
            body: JSON.stringify({ agent: 'nobody', arguments: { text: 'flood' } }),
          }),
        ),
      );
      for (const answer of batch) expect(answer.status).toBe(401);
    }
    // The default limit is 30 per source and minute (all came from 127.0.0.1), refilled at 0.5/s.
    const bound = 30 + Math.ceil(((performance.now() - started) / 1000) * 0.5) + 1;
    const own = await receiptsFrom(gw.gateway, before);
    expect(own.length).toBeGreaterThanOrEqual(30);
    expect(own.length).toBeLessThanOrEqual(bound);
    for (const receipt of own) {
      expect(receipt.predicate).toMatchObject({
        agent: { clientId: `claimed:apikey:${keyId}` },
        tool: { name: 'echo' },
        policy: { effect: 'deny', reason: `wrong secret for API key ${keyId}` },
      });
      expect(receipt.text).not.toContain(wrongSecret);
      // Nothing proved who sent it: only the log's signature.
      expect(receipt.signatures).toBe(1);
    }
    const rows = await gw.gateway.store.securityEvents.list({ kind: 'auth_failed' });
    expect(rows.length - eventsBefore).toBeGreaterThanOrEqual(30);
    expect(rows.length - eventsBefore).toBeLessThanOrEqual(bound);

    // Closing records the windows not yet ended: one summary receipt and one summary row.
    await gw.gateway.close();
    closed = true;
    const reopened = await createGateway({
      home: gw.home,
      env: { OACP_MASTER_KEY: '11'.repeat(32) },
      config: parseGatewayConfig({}, gw.home),
      tools: testTools(),
      logger: silentLogger(),
    });
    cleanup.push(() => reopened.close());
    const after = await receiptsFrom(reopened, before);
    expect(after).toHaveLength(own.length + 1);
    const summary = after.at(-1);
    expect(summary?.predicate).toMatchObject({
      agent: { clientId: 'unauthenticated' },
      tool: { name: 'gateway:refusals-suppressed' },
      policy: {
        effect: 'deny',
        reason: expect.stringContaining(
          `${total - own.length} tool calls refused by authentication from 1 source`,
        ),
      },
    });
    for (const receipt of after) expect(receipt.text).not.toContain(wrongSecret);
    const suppressed = await reopened.store.securityEvents.list({ kind: 'auth_failed_suppressed' });
    expect(suppressed).toHaveLength(1);
    expect(JSON.parse(suppressed[0]?.detail ?? '{}')).toMatchObject({
      count: total - (rows.length - eventsBefore),
      sources: 1,
    });
    expect(suppressed[0]?.detail).not.toContain(wrongSecret);
  }, 120_000);

  describe('one refusal each', () => {
    let gw: TestGateway;
    it('attack: a call whose signature does not verify is receipted under the claimed signer, not co-signed', async () => {
      gw = await startGateway();
      cleanup.push(() => gw.close());
      const { agent, path, init } = await signedToolCall(gw, 'forged');
      const before = gw.gateway.node.log.size;
      // The agent signed other bytes: its signature does not hold for these.
      const forged = await raw(gw.url, path, {
        ...init,
        body: JSON.stringify({ arguments: { text: 'twice' } }),
      });
      expect(forged.status).toBe(401);
      const own = await receiptsFrom(gw.gateway, before);
      expect(own).toHaveLength(1);
      expect(own[0]?.predicate).toMatchObject({
        agent: { clientId: `claimed:${agent.id}` },
        tool: { name: 'echo' },
        policy: { effect: 'deny', reason: expect.stringContaining('signed request refused') },
      });
      expect(own[0]?.signatures).toBe(1);
      expect(own[0]?.text).not.toContain(init.headers['oacp-signed-request']);
    });

    it('attack: a signer no agent has is recorded as claimed, cut to what a receipt holds', async () => {
      const before = gw.gateway.node.log.size;
      const signer = `did:key:z${'A'.repeat(3000)}`;
      const header = Buffer.from(JSON.stringify({ signer, nonce: 'n', signature: 's' })).toString(
        'base64url',
      );
      const answer = await raw(gw.url, '/v1/tools/echo/call', {
        method: 'POST',
        headers: { 'oacp-signed-request': header, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(answer.status).toBe(401);
      const own = await receiptsFrom(gw.gateway, before);
      expect(own).toHaveLength(1);
      expect(own[0]?.predicate.agent.clientId).toBe(`claimed:${signer}`.slice(0, 256));
    });

    it('a call with no credentials is receipted as unauthenticated; other routes get no receipt', async () => {
      const before = gw.gateway.node.log.size;
      const bare = await raw(gw.url, '/v1/tools/no_such_tool/call', { method: 'POST', body: '{}' });
      expect(bare.status).toBe(401);
      const listing = await raw(gw.url, '/v1/agents');
      expect(listing.status).toBe(401);
      const own = await receiptsFrom(gw.gateway, before);
      expect(own).toHaveLength(1);
      expect(own[0]?.predicate).toMatchObject({
        agent: { clientId: 'unauthenticated' },
        tool: { name: 'no_such_tool' },
        policy: { effect: 'deny', reason: expect.stringContaining('authentication required') },
      });
    });
  });
});
