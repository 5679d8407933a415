import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreNonceStore } from '../../src/gateway/store-nonce-store.js';
import { signRequest } from '../../src/identity/signed-request.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/types.js';
import { MANIFEST, raw, startGateway, type TestGateway } from '../gateway/service/harness.js';
import { type PostgresServer, postgresUnavailable, startPostgres } from '../store/postgres-server.js';

const unavailable = postgresUnavailable();
if (unavailable !== undefined) console.warn(`shared nonce tests skipped: ${unavailable}`);

/** The receipt predicate at one log index. */
async function predicateAt(gw: TestGateway, index: number): Promise<unknown> {
  const envelope = JSON.parse(Buffer.from(await gw.gateway.node.log.entry(index)).toString('utf8')) as {
    payload: string;
  };
  return (JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as { predicate: unknown })
    .predicate;
}

/**
 * Two gateways (each its own home, keys and log) on one PostgreSQL database,
 * as the nodes of a cluster are: a signed request carries no audience, so the
 * nonce it spends at one node must be spent at every node.
 */
describe.skipIf(unavailable !== undefined)('signed-request nonces shared through PostgreSQL', () => {
  let server: PostgresServer | undefined;
  let url = '';
  let a: TestGateway | undefined;
  let b: TestGateway | undefined;

  beforeAll(async () => {
    const started = await startPostgres();
    if ('skipped' in started) throw new Error(started.skipped);
    server = started;
    url = await server.createDatabase();
    a = await startGateway({ store: url });
    b = await startGateway({ store: url });
  }, 120_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await server?.stop();
  });

  const nodes = (): [TestGateway, TestGateway] => {
    if (a === undefined || b === undefined) throw new Error('gateways not started');
    return [a, b];
  };

  async function signedCall(gw: TestGateway, name: string) {
    const agent = await gw.client.createAgent({ name, manifest: MANIFEST });
    const signer = await gw.gateway.services.agents.signer(agent.id);
    if (signer === undefined) throw new Error('no signer');
    const path = '/v1/tools/echo/call';
    const body = JSON.stringify({ arguments: { text: 'once' } });
    const signed = signRequest(signer, { purpose: `POST ${path}`, payload: body });
    const init = {
      method: 'POST',
      headers: {
        'oacp-signed-request': Buffer.from(JSON.stringify(signed)).toString('base64url'),
        'content-type': 'application/json',
      },
      body,
    };
    return { agent, path, init };
  }

  it('attack: a request accepted at node A is replayed at node B: a 401 and a receipt naming the replay', async () => {
    const [nodeA, nodeB] = nodes();
    const { agent, path, init } = await signedCall(nodeA, 'cross-node');
    expect((await raw(nodeA.url, path, init)).status).toBe(200);

    const before = nodeB.gateway.node.log.size;
    const replay = await raw(nodeB.url, path, init);
    expect(replay.status).toBe(401);
    expect(replay.json).toMatchObject({ error: { message: expect.stringContaining('replayed nonce') } });
    expect(nodeB.gateway.node.log.size).toBe(before + 1);
    expect(await predicateAt(nodeB, before)).toMatchObject({
      agent: { did: agent.id },
      tool: { name: 'echo' },
      policy: { effect: 'deny', reason: expect.stringContaining('replayed nonce') },
    });
    // And back at A, where it was first accepted.
    expect((await raw(nodeA.url, path, init)).status).toBe(401);
  });

  it('attack: two nodes race one nonce: exactly one store call wins', async () => {
    const stores: Store[] = [await openStore(url), await openStore(url)];
    try {
      const nonceStores = stores.map((store) => new StoreNonceStore(store.requestNonces));
      const expiresAt = Date.now() + 60_000;
      const answers = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          nonceStores[i % 2]?.checkAndRemember('did:key:zRace#n1', expiresAt),
        ),
      );
      expect(answers.filter((won) => won === true)).toHaveLength(1);
      // An expired row is taken over, a live one is not.
      const past = Date.now() - 1;
      expect(await nonceStores[0]?.checkAndRemember('did:key:zRace#old', past)).toBe(true);
      expect(await nonceStores[1]?.checkAndRemember('did:key:zRace#old', Date.now() + 60_000)).toBe(true);
      expect(await nonceStores[0]?.checkAndRemember('did:key:zRace#old', Date.now() + 60_000)).toBe(false);
    } finally {
      for (const store of stores) await store.close();
    }
  });

  it('attack: with the nonce table unreachable, a fresh signed request is refused with a reason', async () => {
    const [nodeA] = nodes();
    const { path, init } = await signedCall(nodeA, 'during-outage');
    const admin = await openStore(url);
    try {
      // Only the nonce table goes away, so the refusal is the nonce store's and nothing else's.
      await admin.sql.run('ALTER TABLE request_nonces RENAME TO request_nonces_gone');
      const refused = await raw(nodeA.url, path, init);
      expect(refused.status).toBe(401);
      expect(refused.json).toMatchObject({
        error: { message: expect.stringMatching(/signed request refused: check failed: .*request_nonces/) },
      });
      await admin.sql.run('ALTER TABLE request_nonces_gone RENAME TO request_nonces');
      // Back: the same request was never remembered, so it now passes once.
      expect((await raw(nodeA.url, path, init)).status).toBe(200);
    } finally {
      await admin.close();
    }
  });

  it('attack: with PostgreSQL stopped, a fresh signed request is refused (last: it stops the server)', async () => {
    const [nodeA] = nodes();
    const { path, init } = await signedCall(nodeA, 'server-down');
    await server?.stop();
    const refused = await raw(nodeA.url, path, init);
    expect(refused.status).toBe(401);
    expect(refused.json).toMatchObject({
      error: { message: expect.stringMatching(/signed request refused: check failed: .*did not answer/) },
    });
  }, 60_000);
});
