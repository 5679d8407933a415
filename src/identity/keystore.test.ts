import { existsSync, mkdtempSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keySigner, privateKeyFromSeed, publicKeyFromPem, verifyEd25519 } from '../core/ed25519.js';
import { publicKeyFromDidKey } from './did-key.js';
import { KeyStore } from './keystore.js';

const NO_ENV = {};
const fresh = () => join(mkdtempSync(join(tmpdir(), 'oacp-home-')), 'home');
const mode = (path: string) => statSync(path).mode & 0o777;
const message = Buffer.from('receipt bytes');

describe('KeyStore', () => {
  it('creates the documented layout with owner-only permissions', async () => {
    const home = fresh();
    await KeyStore.init(home, { env: NO_ENV });
    expect(readFileSync(join(home, 'master.key')).length).toBe(32);
    for (const file of ['master.key', 'keys/airlock.json', 'keys/log.json'])
      expect(mode(join(home, file))).toBe(0o600);
    for (const dir of ['', 'keys', 'agents']) expect(mode(join(home, dir))).toBe(0o700);
    const stored = JSON.parse(readFileSync(join(home, 'keys/airlock.json'), 'utf8'));
    expect(stored).toMatchObject({ version: 1, kind: 'airlock', name: 'airlock', alg: 'ed25519' });
    expect(Object.keys(stored).sort()).toEqual(
      [
        'alg',
        'ciphertext',
        'createdAt',
        'kind',
        'masterKeyId',
        'name',
        'nonce',
        'publicKey',
        'tag',
        'version',
      ].sort(),
    );
  });

  it('reopens with the same keys, which sign and verify', async () => {
    const home = fresh();
    const created = await KeyStore.init(home, { env: NO_ENV });
    const opened = KeyStore.open(home, NO_ENV);
    expect(opened.airlockSigner().publicKey).toEqual(created.airlockSigner().publicKey);
    expect(opened.logSigner().publicKey).toEqual(created.logSigner().publicKey);
    expect(opened.airlockSigner().publicKey).not.toEqual(opened.logSigner().publicKey);
    const signature = opened.airlockSigner().sign(message);
    expect(verifyEd25519(created.airlockSigner().publicKey, message, signature)).toBe(true);
  });

  it('never stores the private key in the clear', async () => {
    const home = fresh();
    const store = await KeyStore.init(home, { env: NO_ENV });
    const agent = store.createAgent('alice');
    const sealed = JSON.parse(readFileSync(join(home, 'agents/alice.json'), 'utf8')) as Record<
      string,
      string
    >;
    expect(sealed.did).toBe(agent.did);
    // No stored field, read as a seed, yields the agent's key: the seed itself is not in the file.
    for (const value of Object.values(sealed)) {
      const bytes = Buffer.from(String(value), 'base64');
      if (bytes.length !== 32) continue;
      expect(keySigner(privateKeyFromSeed(bytes)).publicKey).not.toEqual(agent.publicKey);
    }
  });

  it('refuses to overwrite an existing home unless forced', async () => {
    const home = fresh();
    const first = await KeyStore.init(home, { env: NO_ENV });
    first.createAgent('alice');
    await expect(KeyStore.init(home, { env: NO_ENV })).rejects.toMatchObject({
      code: 'IDENTITY_HOME_EXISTS',
    });
    expect(KeyStore.open(home, NO_ENV).airlockSigner().publicKey).toEqual(first.airlockSigner().publicKey);

    const second = await KeyStore.init(home, { env: NO_ENV, force: true });
    expect(second.airlockSigner().publicKey).not.toEqual(first.airlockSigner().publicKey);
    expect(second.listAgents()).toEqual([]);
    expect(KeyStore.open(home, NO_ENV).airlockSigner().publicKey).toEqual(second.airlockSigner().publicKey);
  });

  it('uses OACP_MASTER_KEY instead of writing master.key, and needs it to reopen', async () => {
    const home = fresh();
    const env = { OACP_MASTER_KEY: Buffer.alloc(32, 9).toString('base64') };
    const store = await KeyStore.init(home, { env });
    expect(store.masterKeySource).toBe('env');
    expect(existsSync(join(home, 'master.key'))).toBe(false);
    expect(KeyStore.open(home, env).logSigner().publicKey).toEqual(store.logSigner().publicKey);
    expect(() => KeyStore.open(home, NO_ENV)).toThrow(
      expect.objectContaining({
        code: 'IDENTITY_MASTER_KEY_MISSING',
        message: expect.stringMatching(/oacp init/),
      }),
    );
  });

  it('refuses a malformed OACP_MASTER_KEY before writing anything', async () => {
    const home = fresh();
    await expect(KeyStore.init(home, { env: { OACP_MASTER_KEY: 'hunter2' } })).rejects.toMatchObject({
      code: 'IDENTITY_MASTER_KEY_INVALID',
    });
    expect(existsSync(home)).toBe(false);
  });

  it('reports a wrong master key as IDENTITY_MASTER_KEY_WRONG with a clear message', async () => {
    const home = fresh();
    await KeyStore.init(home, { env: NO_ENV });
    let caught: unknown;
    try {
      KeyStore.open(home, { OACP_MASTER_KEY: 'cd'.repeat(32) });
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: 'IDENTITY_MASTER_KEY_WRONG' });
    expect((caught as Error).message).toMatch(
      /AES-GCM authentication failed because the master key is wrong/,
    );
    expect((caught as Error).message).not.toContain('cd'.repeat(32));
  });

  it('tells a missing home from a wrong key', () => {
    expect(() => KeyStore.open(fresh(), NO_ENV)).toThrow(
      expect.objectContaining({ code: 'IDENTITY_HOME_MISSING', message: expect.stringMatching(/oacp init/) }),
    );
  });

  it('detects swapped key files (the AAD binds purpose and name)', async () => {
    const home = fresh();
    await KeyStore.init(home, { env: NO_ENV });
    const airlock = join(home, 'keys/airlock.json');
    const log = join(home, 'keys/log.json');
    const airlockText = readFileSync(airlock);
    writeFileSync(airlock, readFileSync(log));
    writeFileSync(log, airlockText);
    expect(() => KeyStore.open(home, NO_ENV)).toThrow(
      expect.objectContaining({ code: 'IDENTITY_KEY_FILE_TAMPERED' }),
    );
  });

  it('detects a file relabelled to pass as another key, and a changed public key', async () => {
    const home = fresh();
    const store = await KeyStore.init(home, { env: NO_ENV });
    const alice = store.createAgent('alice');
    const bob = store.createAgent('bob');
    // Bob's file moved into Alice's slot with its labels rewritten to match.
    const forged = JSON.parse(readFileSync(join(home, 'agents/bob.json'), 'utf8'));
    writeFileSync(join(home, 'agents/alice.json'), JSON.stringify({ ...forged, name: 'alice' }));
    expect(() => store.agent('alice')).toThrow(
      expect.objectContaining({ code: 'IDENTITY_KEY_FILE_TAMPERED' }),
    );
    // Bob's file pointing at Alice's public key.
    const bobFile = JSON.parse(readFileSync(join(home, 'agents/bob.json'), 'utf8'));
    writeFileSync(
      join(home, 'agents/bob.json'),
      JSON.stringify({
        ...bobFile,
        publicKey: Buffer.from(alice.publicKey).toString('base64'),
        did: alice.did,
      }),
    );
    expect(() => store.agent('bob')).toThrow(expect.objectContaining({ code: 'IDENTITY_KEY_FILE_TAMPERED' }));
    expect(bob.did).not.toBe(alice.did);
  });

  it('refuses a file renamed into another slot', async () => {
    const home = fresh();
    const store = await KeyStore.init(home, { env: NO_ENV });
    store.createAgent('alice');
    renameSync(join(home, 'agents/alice.json'), join(home, 'agents/mallory.json'));
    expect(() => store.agent('mallory')).toThrow(
      expect.objectContaining({ code: 'IDENTITY_KEY_FILE_TAMPERED' }),
    );
  });

  it('refuses a key file that is not valid JSON of the right shape', async () => {
    const home = fresh();
    await KeyStore.init(home, { env: NO_ENV });
    writeFileSync(join(home, 'keys/log.json'), '{"version":2}');
    expect(() => KeyStore.open(home, NO_ENV)).toThrow(
      expect.objectContaining({ code: 'IDENTITY_KEY_FILE_INVALID' }),
    );
    writeFileSync(join(home, 'keys/log.json'), 'not json');
    expect(() => KeyStore.open(home, NO_ENV)).toThrow(
      expect.objectContaining({ code: 'IDENTITY_KEY_FILE_INVALID' }),
    );
  });

  it('creates agents with did:key identities that survive reopening', async () => {
    const home = fresh();
    const store = await KeyStore.init(home, { env: NO_ENV, now: () => new Date('2026-01-02T03:04:05Z') });
    const alice = store.createAgent('alice');
    expect(alice.did).toMatch(/^did:key:z6Mk/);
    expect(publicKeyFromDidKey(alice.did)).toEqual(alice.publicKey);
    expect(alice.createdAt).toBe('2026-01-02T03:04:05.000Z');
    expect(mode(join(home, 'agents/alice.json'))).toBe(0o600);

    const again = KeyStore.open(home, NO_ENV).agent('alice');
    expect(again.did).toBe(alice.did);
    expect(verifyEd25519(alice.publicKey, message, again.signer.sign(message))).toBe(true);
  });

  it('lists agents sorted, without their signers', async () => {
    const store = await KeyStore.init(fresh(), { env: NO_ENV });
    store.createAgent('zed');
    store.createAgent('amy');
    const list = store.listAgents();
    expect(list.map((agent) => agent.name)).toEqual(['amy', 'zed']);
    expect(list[0]).not.toHaveProperty('signer');
  });

  it('refuses duplicate agents', async () => {
    const store = await KeyStore.init(fresh(), { env: NO_ENV });
    const first = store.createAgent('alice');
    expect(() => store.createAgent('alice')).toThrow(
      expect.objectContaining({ code: 'IDENTITY_AGENT_EXISTS' }),
    );
    expect(store.agent('alice').did).toBe(first.did);
  });

  it.each(['', 'Alice', '../etc', 'a/b', '.hidden', 'a.json', '-lead', 'x'.repeat(65), 'a b'])(
    'refuses the agent name %j',
    async (name) => {
      const store = await KeyStore.init(fresh(), { env: NO_ENV });
      expect(() => store.createAgent(name)).toThrow(
        expect.objectContaining({ code: 'IDENTITY_AGENT_NAME_INVALID' }),
      );
      expect(() => store.agent(name)).toThrow(
        expect.objectContaining({ code: 'IDENTITY_AGENT_NAME_INVALID' }),
      );
    },
  );

  it('reports an unknown agent', async () => {
    const store = await KeyStore.init(fresh(), { env: NO_ENV });
    expect(() => store.agent('nobody')).toThrow(
      expect.objectContaining({
        code: 'IDENTITY_AGENT_NOT_FOUND',
        message: expect.stringMatching(/oacp agent create/),
      }),
    );
  });

  it('exports public keys as raw, base64, SPKI PEM and did:key', async () => {
    const store = await KeyStore.init(fresh(), { env: NO_ENV });
    const { airlock, log } = store.publicKeys();
    expect(airlock.raw).toEqual(store.airlockSigner().publicKey);
    expect(log.raw).toEqual(store.logSigner().publicKey);
    expect(store.airlockPublicKeyPem()).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const fromPem = publicKeyFromPem(store.airlockPublicKeyPem());
    expect(verifyEd25519(fromPem, message, store.airlockSigner().sign(message))).toBe(true);
    expect(publicKeyFromDidKey(airlock.didKey)).toEqual(airlock.raw);
    expect(Buffer.from(airlock.base64, 'base64')).toEqual(Buffer.from(airlock.raw));
    expect(airlock.fingerprint).toMatch(/^ed25519:[0-9a-f]{16}$/);
  });
});
