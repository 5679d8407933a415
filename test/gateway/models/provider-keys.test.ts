import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialVault, MODEL_PROVIDER_KEYS } from '../../../src/gateway/credentials/credential-vault.js';
import { ProviderKeys } from '../../../src/gateway/models/provider-keys.js';
import { homeLayout } from '../../../src/identity/home-layout.js';
import { loadMasterKey } from '../../../src/identity/master-key.js';
import { startGateway, type TestGateway } from '../service/harness.js';
import { modelAgent, modelsConfig, putProviderKey } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const FIRST = 'sk-provider-key-first-0123456789';
const ROTATED = 'sk-provider-key-rotated-0123456789';

/**
 * Issue 14: the provider key was read from the vault (a store read and an AES-GCM open) on
 * every model call. It is kept per provider for a bounded time, and a rotation through the vault
 * is used from the very next call.
 */
describe('provider keys kept in memory', () => {
  let provider: StandIn;
  let gw: TestGateway;
  let key: string;
  let vaultReads = 0;

  beforeAll(async () => {
    provider = await startStandIn('kept');
    gw = await startGateway({
      config: modelsConfig({
        providers: [{ name: 'kept', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
      }),
    });
    key = (await modelAgent(gw, 'caller', ['*'])).key;
    await putProviderKey(gw, 'kept', FIRST);
    // Counts the vault's reads of the provider keys' rows (the real store, only counted).
    const repo = gw.gateway.store.credentials;
    const forAgent = repo.forAgent.bind(repo);
    repo.forAgent = (agentId: string) => {
      if (agentId === MODEL_PROVIDER_KEYS) vaultReads += 1;
      return forAgent(agentId);
    };
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await provider?.close();
  });

  const chat = async () => {
    const answer = await request(new URL('/v1/chat/completions', gw.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
    });
    await answer.body.text();
    return { status: answer.statusCode, sent: provider.received.at(-1)?.headers.authorization };
  };

  it('20 calls read the key from the vault once, and each sends it', async () => {
    vaultReads = 0;
    for (let i = 0; i < 20; i++) expect(await chat()).toEqual({ status: 200, sent: `Bearer ${FIRST}` });
    expect(vaultReads).toBeLessThanOrEqual(1);
  });

  it('attack: a rotated key is sent from the next call on, and a deleted one is sent no more', async () => {
    await putProviderKey(gw, 'kept', ROTATED);
    expect((await chat()).sent).toBe(`Bearer ${ROTATED}`);
    await gw.gateway.services.credentials?.delete('kept-key', MODEL_PROVIDER_KEYS, 'models/kept');
    expect((await chat()).sent).toBeUndefined();
  });

  it('attack: a key rotated by another gateway on the same store: the old one is refused once (401), and the next call sends the new one', async () => {
    await putProviderKey(gw, 'kept', FIRST);
    expect((await chat()).sent).toBe(`Bearer ${FIRST}`);
    // Another gateway on this store rotates the key: this process's vault sees no change of its own.
    const other = new CredentialVault({
      store: gw.gateway.store,
      masterKey: loadMasterKey(homeLayout(gw.home).masterKey, { OACP_MASTER_KEY: '11'.repeat(32) }).bytes,
    });
    await other.put({
      name: 'kept-key',
      agentId: MODEL_PROVIDER_KEYS,
      tool: 'models/kept',
      inject: { kind: 'header', name: 'authorization' },
      value: `Bearer ${ROTATED}`,
    });
    // The provider revoked the old key: its refusal is passed on, and the kept copy dropped.
    provider.queue('401');
    expect(await chat()).toEqual({ status: 401, sent: `Bearer ${FIRST}` });
    expect(await chat()).toEqual({ status: 200, sent: `Bearer ${ROTATED}` });
    expect(await chat()).toEqual({ status: 200, sent: `Bearer ${ROTATED}` });
  });

  it('a kept key is read again after its time, and a failed read is not kept', async () => {
    let clock = 0;
    let reads = 0;
    let fail = true;
    const keys = new ProviderKeys({
      read: async () => {
        reads += 1;
        if (fail) throw new Error('store down');
        return { headers: () => ({ authorization: 'Bearer x' }), redact: (text) => text };
      },
      generation: () => 0,
      ttlMs: 1_000,
      now: () => clock,
    });
    const config = { name: 'p' } as Parameters<ProviderKeys['secretsFor']>[0];
    await expect(keys.secretsFor(config)).rejects.toThrow('store down');
    fail = false;
    await keys.secretsFor(config);
    await keys.secretsFor(config);
    expect(reads).toBe(2);
    clock = 1_000;
    await keys.secretsFor(config);
    expect(reads).toBe(3);
  });
});
