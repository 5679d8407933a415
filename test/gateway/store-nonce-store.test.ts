import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { StoreNonceStore } from '../../src/gateway/store-nonce-store.js';
import { NONCE_PRUNE_GRACE_MS } from '../../src/identity/nonce-store.js';
import { signRequest, verifySignedRequest } from '../../src/identity/signed-request.js';
import { openStore } from '../../src/store/open-store.js';

const agent = keySigner(generateEd25519().privateKey);
const purpose = 'POST /v1/tools/echo/call';
const payload = '{"arguments":{}}';

/**
 * The store-backed nonce store on the SQLite backend (the same SQL PostgreSQL
 * runs; the PostgreSQL cluster case is test/cluster/shared-nonces.test.ts).
 */
describe('StoreNonceStore', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function store() {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-store-nonces-'));
    dirs.push(dir);
    return openStore(join(dir, 'gateway.db'));
  }

  it('attack: a replay through a second handle on the same store is refused', async () => {
    const s = await store();
    const signed = signRequest(agent, { purpose, payload });
    const check = (nonces: StoreNonceStore) =>
      verifySignedRequest(signed, { publicKey: agent.publicKey, payload, purpose, nonces });
    expect(await check(new StoreNonceStore(s.requestNonces))).toMatchObject({ ok: true });
    expect(await check(new StoreNonceStore(s.requestNonces))).toEqual({
      ok: false,
      reason: 'replayed nonce',
    });
    await s.close();
  });

  it("forgets expired nonces when it prunes, only past the grace other nodes' clocks need", async () => {
    const s = await store();
    let now = 1_000;
    const nonces = new StoreNonceStore(s.requestNonces, { now: () => now, pruneIntervalMs: 10 });
    expect(await nonces.checkAndRemember('a', 2_000)).toBe(true);
    expect(await nonces.checkAndRemember('a', 2_000)).toBe(false);
    const held = async () =>
      (await s.sql.all<{ nonce: string }>('SELECT nonce FROM request_nonces ORDER BY nonce')).map(
        (row) => row.nonce,
      );
    // Expired by this clock, but another node's clock may be behind: kept for the grace.
    now = 2_000;
    expect(await nonces.checkAndRemember('b', now + NONCE_PRUNE_GRACE_MS + 10_000)).toBe(true);
    expect(await held()).toEqual(['a', 'b']);
    now = 2_000 + NONCE_PRUNE_GRACE_MS;
    expect(await nonces.checkAndRemember('c', now + 10_000)).toBe(true);
    expect(await held()).toEqual(['b', 'c']);
    await s.close();
  });

  it('attack: with its store closed, a valid request is refused with a reason, not let through', async () => {
    const s = await store();
    const nonces = new StoreNonceStore(s.requestNonces);
    await s.close();
    const signed = signRequest(agent, { purpose, payload });
    const verdict = await verifySignedRequest(signed, {
      publicKey: agent.publicKey,
      payload,
      purpose,
      nonces,
    });
    expect(verdict).toMatchObject({ ok: false, reason: expect.stringMatching(/^check failed: .*closed/) });
  });
});
