import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { QuotaExceededError } from '../../../src/airlock/quota/errors.js';
import { ContextVault, contextAad, openSealed, partitionKey } from '../../../src/gateway/vault/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { testBackends } from './backends.js';

const MASTER = new Uint8Array(randomBytes(32));
const A = 'did:key:z6MkAgentA';
const B = 'did:key:z6MkAgentB';

describe.each(testBackends())('context vault on $name', (backend) => {
  const stores: Store[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  async function setup(quota?: number) {
    const location = await backend.newLocation();
    const store = await openStore(location);
    stores.push(store);
    const vault = new ContextVault({
      store,
      masterKey: MASTER,
      ...(quota === undefined ? {} : { partitionQuotaBytes: quota }),
    });
    for (const id of [A, B]) {
      await store.agents.insert({
        id,
        name: id.slice(-6),
        manifest: '{}',
        state: 'running',
        parentId: null,
        sealedKey: '{}',
        code: null,
        createdAt: new Date().toISOString(),
        updatedAt: new Date().toISOString(),
      });
      await vault.createPartition(id);
    }
    return { store, vault, location };
  }

  it.skipIf(backend.skip !== undefined)('stores, reads, lists and deletes values per agent', async () => {
    const { vault } = await setup();
    await vault.put(A, 'notes', 'hello from A');
    await vault.put(B, 'notes', new Uint8Array([0, 1, 2]));
    expect(await vault.getText(A, 'notes')).toBe('hello from A');
    expect([...((await vault.get(B, 'notes')) ?? [])]).toEqual([0, 1, 2]);
    expect(await vault.get(A, 'absent')).toBeUndefined();
    await vault.put(A, 'notes', 'replaced');
    expect(await vault.getText(A, 'notes')).toBe('replaced');
    expect((await vault.list(A)).map((k) => [k.key, k.size])).toEqual([['notes', 8]]);
    expect(await vault.delete(A, 'notes')).toBe(true);
    expect(await vault.delete(A, 'notes')).toBe(false);
    expect(await vault.list(A)).toEqual([]);
    expect(await vault.usage(A)).toMatchObject({ usedBytes: 0 });
  });

  it.skipIf(backend.skip !== undefined)('keeps only ciphertext at rest', async () => {
    const { vault, store } = await setup();
    await vault.put(A, 'secret-plan', 'PLAINTEXT-MARKER-123');
    const rows = await store.sql.all<{ ciphertext: Uint8Array }>('SELECT ciphertext FROM context_entries');
    expect(rows).toHaveLength(1);
    expect(Buffer.from(rows[0]?.ciphertext ?? []).includes('PLAINTEXT-MARKER')).toBe(false);
  });

  it.skipIf(backend.skip !== undefined)(
    'logs every access with key, op, bytes and outcome, never values',
    async () => {
      const { vault } = await setup(64);
      await vault.put(A, 'k', 'VALUE-NOT-IN-LOG', { actor: 'apikey:1' });
      await vault.get(A, 'k');
      await vault.get(A, 'missing');
      await expect(vault.put(A, 'big', 'x'.repeat(100))).rejects.toBeInstanceOf(QuotaExceededError);
      await vault.list(A);
      await vault.delete(A, 'k');
      const log = await vault.accessLog(A);
      expect(log.map((r) => [r.key, r.op, r.bytes, r.outcome])).toEqual([
        ['k', 'write', 16, 'ok'],
        ['k', 'read', 16, 'ok'],
        ['missing', 'read', 0, 'missing'],
        ['big', 'write', 100, 'denied'],
        ['*', 'list', 0, 'ok'],
        ['k', 'delete', 16, 'ok'],
      ]);
      expect(log[0]?.actor).toBe('apikey:1');
      expect(JSON.stringify(log)).not.toContain('VALUE-NOT-IN-LOG');
      expect(await vault.accessLog(B)).toEqual([]);
    },
  );

  it.skipIf(backend.skip !== undefined)('enforces the partition quota, naming it and its limit', async () => {
    const { vault } = await setup(100);
    await vault.put(A, 'a', 'x'.repeat(60));
    const refusal = await vault.put(A, 'b', 'x'.repeat(41)).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(QuotaExceededError);
    expect(refusal).toMatchObject({ quota: 'context_bytes', limit: 100 });
    expect((refusal as Error).message).toContain('context_bytes');
    expect((refusal as Error).message).toContain('limit 100 bytes');
    // Replacing a value counts only the difference; deleting frees space; other partitions are separate.
    await vault.put(A, 'a', 'x'.repeat(100));
    await expect(vault.put(A, 'c', 'x')).rejects.toBeInstanceOf(QuotaExceededError);
    await vault.put(B, 'c', 'x'.repeat(100));
    await vault.delete(A, 'a');
    await vault.put(A, 'b', 'x'.repeat(41));
    expect(await vault.usage(A)).toEqual({ usedBytes: 41, limitBytes: 100 });
  });

  it.skipIf(backend.skip !== undefined)(
    'never lets concurrent writers exceed the quota together',
    async () => {
      const { vault } = await setup(500);
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => vault.put(A, `k${i}`, 'x'.repeat(100))),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
      expect(await vault.usage(A)).toMatchObject({ usedBytes: 500 });
    },
  );

  it.skipIf(backend.skip !== undefined)(
    'refuses a ciphertext moved to another key or partition',
    async () => {
      const { vault, store } = await setup();
      await vault.put(A, 'one', 'for key one');
      await vault.put(A, 'two', 'for key two');
      await vault.put(B, 'one', 'B value');
      // Copy A/one's ciphertext over A/two, and over B/one.
      const moved = await store.sql.get<{ nonce: Uint8Array; ciphertext: Uint8Array }>(
        'SELECT nonce, ciphertext FROM context_entries WHERE agent_id = ? AND key_name = ?',
        [A, 'one'],
      );
      if (moved === undefined) throw new Error('row missing');
      for (const [agent, key] of [
        [A, 'two'],
        [B, 'one'],
      ] as const) {
        await store.sql.run(
          'UPDATE context_entries SET nonce = ?, ciphertext = ? WHERE agent_id = ? AND key_name = ?',
          [moved.nonce, moved.ciphertext, agent, key],
        );
        await expect(vault.get(agent, key)).rejects.toMatchObject({ code: 'VAULT_DECRYPT_FAILED' });
      }
      expect(await vault.getText(A, 'one')).toBe('for key one');
    },
  );

  it.skipIf(backend.skip !== undefined)('cannot be read with another master key', async () => {
    const { vault, store } = await setup();
    await vault.put(A, 'k', 'v');
    const other = new ContextVault({ store, masterKey: new Uint8Array(randomBytes(32)) });
    await expect(other.get(A, 'k')).rejects.toMatchObject({ code: 'VAULT_DECRYPT_FAILED' });
  });

  it.skipIf(backend.skip !== undefined)('refuses bad key names and agents without a partition', async () => {
    const { vault } = await setup();
    await expect(vault.put(A, '', 'v')).rejects.toMatchObject({ code: 'VAULT_KEY_INVALID' });
    await expect(vault.put(A, 'line\nforged', 'v')).rejects.toMatchObject({ code: 'VAULT_KEY_INVALID' });
    await expect(vault.put(A, 'k'.repeat(257), 'v')).rejects.toMatchObject({ code: 'VAULT_KEY_INVALID' });
    await expect(vault.get('did:key:z6MkNobody', 'k')).rejects.toMatchObject({ code: 'VAULT_NO_PARTITION' });
  });

  it.skipIf(backend.skip !== undefined)(
    'crypto-shreds: after destruction no salt left in the store opens the old ciphertexts',
    async () => {
      const { vault, store, location } = await setup();
      await vault.put(A, 'diary', 'A private thought');
      await vault.saveCheckpoint(A, { step: 3 });
      await vault.put(B, 'diary', 'B keeps this');
      const before = await store.sql.all<{
        agent_id: string;
        key_name: string;
        nonce: Uint8Array;
        ciphertext: Uint8Array;
      }>('SELECT agent_id, key_name, nonce, ciphertext FROM context_entries WHERE agent_id = ?', [A]);
      const saltA = (await store.context.partition(A))?.salt;
      expect(before).toHaveLength(1);
      // The attack works while the salt exists: the test would notice a broken decryption path.
      const row = before[0];
      if (row === undefined || saltA == null) throw new Error('setup failed');
      expect(
        openSealed(partitionKey(MASTER, saltA, A, 'context'), contextAad(A, 'diary'), row),
      ).toBeDefined();

      expect(await vault.destroyPartition(A)).toBe(true);
      await store.scrub();

      await expect(vault.get(A, 'diary')).rejects.toMatchObject({ code: 'VAULT_DESTROYED' });
      await expect(vault.put(A, 'diary', 'again')).rejects.toMatchObject({ code: 'VAULT_DESTROYED' });
      await expect(vault.loadCheckpoint(A)).rejects.toMatchObject({ code: 'VAULT_DESTROYED' });
      expect(await store.sql.all('SELECT * FROM context_entries WHERE agent_id = ?', [A])).toEqual([]);
      expect(await store.sql.all('SELECT * FROM agent_checkpoints WHERE agent_id = ?', [A])).toEqual([]);

      const salts = await store.sql.all<{ salt: Uint8Array | null }>('SELECT salt FROM context_partitions');
      const live = salts.flatMap((s) => (s.salt === null ? [] : [s.salt]));
      expect(live).toHaveLength(1); // B's
      for (const salt of live) {
        for (const agent of [A, B]) {
          expect(
            openSealed(partitionKey(MASTER, salt, agent, 'context'), contextAad(A, 'diary'), row),
          ).toBeUndefined();
        }
      }
      expect(await vault.getText(B, 'diary')).toBe('B keeps this');

      if (backend.name === 'sqlite') {
        // secure_delete + WAL truncation: the salt bytes are gone from the files themselves.
        const files = [location, `${location}-wal`].flatMap((path) => {
          try {
            return [readFileSync(path)];
          } catch {
            return [];
          }
        });
        expect(files.length).toBeGreaterThan(0);
        for (const bytes of files) expect(bytes.includes(Buffer.from(saltA))).toBe(false);
      }
    },
  );

  it.skipIf(backend.skip !== undefined)('checkpoints survive closing and reopening the store', async () => {
    const { vault, store, location } = await setup();
    expect(await vault.loadCheckpoint(A)).toBeUndefined();
    expect(await vault.saveCheckpoint(A, { step: 1 })).toBe(1);
    expect(await vault.saveCheckpoint(A, { step: 2, notes: ['a', 'b'] })).toBe(2);
    await expect(vault.saveCheckpoint(A, { n: 1n })).rejects.toMatchObject({ code: 'VAULT_STATE_INVALID' });
    await expect(vault.saveCheckpoint(A, undefined)).rejects.toMatchObject({ code: 'VAULT_STATE_INVALID' });
    await store.close();
    const reopened = await openStore(location);
    stores.push(reopened);
    const again = new ContextVault({ store: reopened, masterKey: MASTER });
    expect(await again.loadCheckpoint(A)).toMatchObject({ seq: 2, state: { step: 2, notes: ['a', 'b'] } });
    // A checkpoint moved to another agent fails authentication.
    await reopened.sql.run('UPDATE agent_checkpoints SET agent_id = ? WHERE agent_id = ?', [B, A]);
    await expect(again.loadCheckpoint(B)).rejects.toMatchObject({ code: 'VAULT_DECRYPT_FAILED' });
  });
});
