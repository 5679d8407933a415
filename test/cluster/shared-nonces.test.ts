import { TaskState } from '@a2a-js/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { StoreNonceStore } from '../../src/gateway/store-nonce-store.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/types.js';
import { a2aClientAt, DECLARED, signedRequest } from '../a2a/signed-message.js';
import { raw, startGateway, type TestGateway } from '../gateway/service/harness.js';
import { receiptPredicate, signedToolCall } from '../gateway/service/signed-call.js';
import { type PostgresServer, postgresUnavailable, startPostgres } from '../store/postgres-server.js';

const unavailable = postgresUnavailable();
if (unavailable !== undefined) console.warn(`shared nonce tests skipped: ${unavailable}`);

const sender = keySigner(generateEd25519().privateKey);
const A2A_AGENT = 'a2a-replayed';
/** Both nodes let the sender write to the agent: only the replay can refuse it. */
const config = { a2a: { trust: [{ from: didKeyFromPublicKey(sender.publicKey), to: A2A_AGENT }] } };

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
    a = await startGateway({ store: url, config });
    b = await startGateway({ store: url, config });
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

  it('attack: a request accepted at node A is replayed at node B: a 401 and a receipt naming the replay', async () => {
    const [nodeA, nodeB] = nodes();
    const { agent, path, init } = await signedToolCall(nodeA, 'cross-node');
    expect((await raw(nodeA.url, path, init)).status).toBe(200);

    const before = nodeB.gateway.node.log.size;
    const replay = await raw(nodeB.url, path, init);
    expect(replay.status).toBe(401);
    expect(replay.json).toMatchObject({ error: { message: expect.stringContaining('replayed nonce') } });
    expect(nodeB.gateway.node.log.size).toBe(before + 1);
    expect(await receiptPredicate(nodeB, before)).toMatchObject({
      agent: { did: agent.id },
      tool: { name: 'echo' },
      policy: { effect: 'deny', reason: expect.stringContaining('replayed nonce') },
    });
    // And back at A, where it was first accepted.
    expect((await raw(nodeA.url, path, init)).status).toBe(401);
  });

  it('attack: an A2A message accepted at node A is replayed at node B: refused, with a receipt at B', async () => {
    const [nodeA, nodeB] = nodes();
    const agent = await nodeA.client.createAgent({
      name: A2A_AGENT,
      manifest: {
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name: A2A_AGENT,
        quotas: { memory_mb: 16 },
      },
      code: 'function main(input) { return { echo: input.text }; }',
    });
    await nodeA.client.startAgent(agent.id);
    const request = signedRequest(sender, agent.id, 'pay once');
    const clientOf = (gw: TestGateway) => a2aClientAt(gw.url.origin, A2A_AGENT);
    const accepted = await (await clientOf(nodeA)).sendMessage(request, DECLARED);
    expect('status' in accepted && accepted.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);

    // The same signed message, byte for byte, at the other node inside the freshness window.
    const before = nodeB.gateway.node.log.size;
    await expect((await clientOf(nodeB)).sendMessage(request, DECLARED)).rejects.toThrow(/already delivered/);
    expect(nodeB.gateway.node.log.size).toBe(before + 1);
    expect(await receiptPredicate(nodeB, before)).toMatchObject({
      agent: { did: didKeyFromPublicKey(sender.publicKey) },
      policy: { effect: 'deny', reason: expect.stringContaining('already delivered') },
    });
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
    const { path, init } = await signedToolCall(nodeA, 'during-outage');
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
    const { path, init } = await signedToolCall(nodeA, 'server-down');
    await server?.stop();
    const refused = await raw(nodeA.url, path, init);
    expect(refused.status).toBe(401);
    expect(refused.json).toMatchObject({
      error: { message: expect.stringMatching(/signed request refused: check failed: .*did not answer/) },
    });
  }, 60_000);
});
