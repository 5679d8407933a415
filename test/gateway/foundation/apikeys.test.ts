import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ApiKeys, parseApiKey } from '../../../src/gateway/apikeys/index.js';
import { openStore, type Store } from '../../../src/store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'oacp-keys-'));
let n = 0;
const stores: Store[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function setup() {
  n += 1;
  const store = await openStore(join(dir, `k${n}.db`));
  stores.push(store);
  return { store, keys: new ApiKeys({ store, now: () => new Date('2030-01-01T00:00:00Z') }) };
}

describe('API keys', () => {
  it('creates a key shown once as oacp_<id>_<secret> and stores only a salted hash', async () => {
    const { store, keys } = await setup();
    const created = await keys.create({ scopes: ['tools:call', 'context:read', 'tools:call'], label: 'ci' });
    expect(created.key).toMatch(/^oacp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(created.scopes).toEqual(['tools:call', 'context:read']);
    const secret = parseApiKey(created.key)?.secret ?? '';
    const rows = await store.sql.all<Record<string, unknown>>('SELECT * FROM api_keys');
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(Buffer.from(rows[0]?.hash as Uint8Array).toString('base64url')).not.toBe(secret);
    expect(await keys.list()).toEqual([
      {
        id: created.id,
        scopes: ['tools:call', 'context:read'],
        label: 'ci',
        agentId: null,
        createdAt: created.createdAt,
        revokedAt: null,
      },
    ]);
    expect(JSON.stringify(await keys.list())).not.toContain(secret);
  });

  it('binds a key to one agent by its did:key, and refuses anything else as the binding', async () => {
    const { keys } = await setup();
    const did = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK';
    const bound = await keys.create({ scopes: ['models:call'], agentId: did });
    expect(bound.agentId).toBe(did);
    expect(await keys.authenticate(bound.key)).toMatchObject({ effect: 'allow', agentId: did });
    await expect(keys.create({ scopes: ['models:call'], agentId: 'alice' })).rejects.toMatchObject({
      code: 'APIKEY_AGENT_INVALID',
    });
  });

  it('authenticates the right key and reports its scopes', async () => {
    const { keys } = await setup();
    const created = await keys.create({ scopes: ['agents:read'] });
    const verdict = await keys.authenticate(created.key);
    expect(verdict).toEqual({
      effect: 'allow',
      reason: `API key ${created.id}`,
      keyId: created.id,
      scopes: ['agents:read'],
      label: null,
      agentId: null,
    });
    expect(keys.authorize(verdict, 'agents:read').effect).toBe('allow');
    expect(keys.authorize(verdict, 'agents:write')).toEqual({
      effect: 'deny',
      reason: `API key ${created.id} lacks scope agents:write`,
      keyId: created.id,
    });
  });

  it('refuses malformed keys, unknown ids, wrong secrets and revoked keys, with reasons and no secret', async () => {
    const { keys } = await setup();
    const created = await keys.create({ scopes: ['admin'] });
    const parsed = parseApiKey(created.key);
    if (parsed === undefined) throw new Error('unparseable key');
    const wrongSecret = `oacp_${parsed.id}_${'A'.repeat(43)}`;
    const unknownId = `oacp_0000000000000000_${parsed.secret}`;
    const cases: [string, RegExp][] = [
      ['', /^malformed API key/],
      ['Bearer xyz', /^malformed API key/],
      [`${created.key}x`, /^malformed API key/],
      [unknownId, /^unknown API key id 0000000000000000$/],
      [wrongSecret, new RegExp(`^wrong secret for API key ${parsed.id}$`)],
    ];
    for (const [presented, reason] of cases) {
      const verdict = await keys.authenticate(presented);
      expect(verdict.effect).toBe('deny');
      expect(verdict.reason).toMatch(reason);
      expect(verdict.reason).not.toContain(parsed.secret);
      expect(verdict.reason).not.toContain('AAAAAAAA');
      expect(keys.authorize(verdict, 'agents:read').effect).toBe('deny');
    }
    expect(await keys.revoke(created.id)).toBe(true);
    expect(await keys.revoke(created.id)).toBe(false);
    expect(await keys.revoke('ffffffffffffffff')).toBe(false);
    expect(await keys.authenticate(created.key)).toEqual({
      effect: 'deny',
      reason: `API key ${created.id} was revoked at 2030-01-01T00:00:00.000Z`,
      keyId: created.id,
    });
    // A revoked key with a wrong secret is just a wrong secret: revocation is not told to strangers.
    expect((await keys.authenticate(wrongSecret)).reason).toMatch(/^wrong secret/);
  });

  it('admin holds every scope; other scopes imply nothing', async () => {
    const { keys } = await setup();
    const admin = await keys.authenticate((await keys.create({ scopes: ['admin'] })).key);
    expect(keys.authorize(admin, 'credentials:write').effect).toBe('allow');
    const writer = await keys.authenticate((await keys.create({ scopes: ['context:write'] })).key);
    expect(keys.authorize(writer, 'context:read').effect).toBe('deny');
  });

  it('refuses unknown or missing scopes and bad labels when creating', async () => {
    const { keys } = await setup();
    await expect(keys.create({ scopes: [] })).rejects.toMatchObject({ code: 'APIKEY_SCOPE_INVALID' });
    await expect(keys.create({ scopes: ['tools:call', 'root'] })).rejects.toThrow(
      /scopes\[1\]: expected one of/,
    );
    await expect(keys.create({ scopes: ['admin'], label: 'bad\nlabel' })).rejects.toMatchObject({
      code: 'APIKEY_LABEL_INVALID',
    });
  });

  it('denies a key whose stored scopes were tampered into garbage', async () => {
    const { store, keys } = await setup();
    const created = await keys.create({ scopes: ['admin'] });
    await store.sql.run('UPDATE api_keys SET scopes = ? WHERE id = ?', ['{not json', created.id]);
    expect(await keys.authenticate(created.key)).toMatchObject({ effect: 'deny' });
  });

  it('records creation and revocation as security events', async () => {
    const { store, keys } = await setup();
    const created = await keys.create({ scopes: ['admin'], label: 'ops' });
    await keys.revoke(created.id);
    const events = await store.securityEvents.list();
    expect(events.map((e) => [e.kind, e.subject])).toEqual([
      ['apikey.created', created.id],
      ['apikey.revoked', created.id],
    ]);
    expect(JSON.stringify(events)).not.toContain(created.key);
  });
});
