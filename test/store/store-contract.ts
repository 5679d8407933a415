import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS, type Migration, openStore, SCHEMA_VERSION, type Store } from '../../src/store/index.js';

/**
 * The repository suite every backend must pass, word for word: SQLite and
 * PostgreSQL run these same tests (sqlite.test.ts, postgres.test.ts).
 * `newLocation` returns a fresh, empty store location each call.
 */
export function storeContract(newLocation: () => Promise<string>): void {
  const opened: Store[] = [];
  const open = async (location?: string, migrations?: readonly Migration[]) => {
    const store = await openStore(
      location ?? (await newLocation()),
      migrations === undefined ? {} : { migrations },
    );
    opened.push(store);
    return store;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });

  const at = (n: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, n)).toISOString();
  const agent = (id: string, extra: Partial<Parameters<Store['agents']['insert']>[0]> = {}) => ({
    id,
    name: `name-${id}`,
    manifest: '{"name":"m"}',
    state: 'created',
    parentId: null,
    sealedKey: '{"sealed":true}',
    code: null,
    attributes: '{}',
    createdAt: at(1),
    updatedAt: at(1),
    ...extra,
  });
  const bytes = (...values: number[]) => new Uint8Array(values);

  describe('schema and migrations', () => {
    it('migrates a fresh store to the current version and records each migration once', async () => {
      const location = await newLocation();
      const store = await open(location);
      expect(await store.schemaVersion()).toBe(SCHEMA_VERSION);
      const rows = await store.sql.all<{ version: number }>(
        'SELECT version FROM schema_migrations ORDER BY version',
      );
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
      await store.close();
      const again = await open(location);
      expect(await again.schemaVersion()).toBe(SCHEMA_VERSION);
      expect(await again.sql.all('SELECT version FROM schema_migrations')).toHaveLength(MIGRATIONS.length);
    });

    it('applies only the migrations a store lacks, in order', async () => {
      const location = await newLocation();
      const first = await open(location);
      await first.close();
      const next: Migration = {
        version: SCHEMA_VERSION + 1,
        name: 'extra',
        statements: (d) => [`CREATE TABLE extra (id TEXT PRIMARY KEY, data ${d.blob})`],
      };
      const store = await open(location, [...MIGRATIONS, next]);
      expect(await store.schemaVersion()).toBe(SCHEMA_VERSION + 1);
      await store.sql.run('INSERT INTO extra (id, data) VALUES (?, ?)', ['a', bytes(1)]);
    });

    it('rolls back every migration of a run when one fails', async () => {
      const location = await newLocation();
      const broken: Migration = {
        version: SCHEMA_VERSION + 1,
        name: 'broken',
        statements: () => ['CREATE TABLE'],
      };
      await expect(open(location, [...MIGRATIONS, broken])).rejects.toMatchObject({
        code: 'STORE_MIGRATION_FAILED',
      });
      // Nothing of migration 1 was kept either: a later good run starts from zero.
      const store = await open(location);
      expect(await store.schemaVersion()).toBe(SCHEMA_VERSION);
      expect(await store.agents.list()).toEqual([]);
    });

    it('refuses a store migrated by a newer OACP', async () => {
      const location = await newLocation();
      const store = await open(location);
      await store.sql.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
        999,
        'future',
        at(0),
      ]);
      await store.close();
      await expect(open(location)).rejects.toMatchObject({ code: 'STORE_SCHEMA_TOO_NEW' });
    });
  });

  describe('agents', () => {
    it('stores, reads and filters agents; ids are unique', async () => {
      const store = await open();
      await store.agents.insert(agent('did:key:a'));
      await store.agents.insert(
        agent('did:key:b', { parentId: 'did:key:a', state: 'running', createdAt: at(2) }),
      );
      expect(await store.agents.get('did:key:b')).toEqual(
        agent('did:key:b', { parentId: 'did:key:a', state: 'running', createdAt: at(2) }),
      );
      expect(await store.agents.get('did:key:zz')).toBeUndefined();
      expect((await store.agents.list()).map((a) => a.id)).toEqual(['did:key:a', 'did:key:b']);
      expect((await store.agents.list({ parentId: 'did:key:a' })).map((a) => a.id)).toEqual(['did:key:b']);
      expect((await store.agents.list({ state: 'created' })).map((a) => a.id)).toEqual(['did:key:a']);
      await expect(store.agents.insert(agent('did:key:a'))).rejects.toMatchObject({ code: 'STORE_CONFLICT' });
    });

    it('keeps names unique and finds agents by name; attributes default to {}', async () => {
      const store = await open();
      const { attributes: _omitted, ...withoutAttributes } = agent('did:key:a');
      await store.agents.insert(withoutAttributes);
      expect(await store.agents.getByName('name-did:key:a')).toMatchObject({
        id: 'did:key:a',
        attributes: '{}',
      });
      expect(await store.agents.getByName('nobody')).toBeUndefined();
      await expect(store.agents.insert(agent('did:key:b', { name: 'name-did:key:a' }))).rejects.toMatchObject(
        {
          code: 'STORE_CONFLICT',
        },
      );
      await store.agents.insert(agent('did:key:c', { attributes: '{"team":"blue"}' }));
      expect((await store.agents.get('did:key:c'))?.attributes).toBe('{"team":"blue"}');
    });

    it('refuses a parent that does not exist', async () => {
      const store = await open();
      await expect(store.agents.insert(agent('did:key:c', { parentId: 'did:key:nobody' }))).rejects.toThrow();
    });

    it('changes state only from the expected state (compare-and-set)', async () => {
      const store = await open();
      await store.agents.insert(agent('did:key:a'));
      expect(await store.agents.setState('did:key:a', 'running', 'suspended', at(5))).toBe(false);
      expect(await store.agents.setState('did:key:a', 'created', 'running', at(5))).toBe(true);
      expect(await store.agents.setState('did:key:a', 'created', 'running', at(6))).toBe(false);
      expect(await store.agents.get('did:key:a')).toMatchObject({ state: 'running', updatedAt: at(5) });
    });
  });

  describe('context', () => {
    it('keeps encrypted entries per partition, bytes intact', async () => {
      const store = await open();
      await store.agents.insert(agent('did:key:a'));
      const salt = new Uint8Array(32).fill(7);
      await store.context.createPartition('did:key:a', salt, at(1));
      await expect(store.context.createPartition('did:key:a', salt, at(1))).rejects.toMatchObject({
        code: 'STORE_CONFLICT',
      });
      const backing = bytes(9, 9, 0, 255, 1, 2, 9);
      const entry = {
        agentId: 'did:key:a',
        key: 'notes',
        nonce: backing.subarray(2, 5),
        ciphertext: bytes(0, 1, 2, 254),
        size: 4,
        updatedAt: at(2),
      };
      await store.context.put(entry);
      const read = await store.context.get('did:key:a', 'notes');
      expect(read && [...read.nonce]).toEqual([0, 255, 1]);
      expect(read && [...read.ciphertext]).toEqual([0, 1, 2, 254]);
      expect(read?.size).toBe(4);
      await store.context.put({ ...entry, ciphertext: bytes(5), size: 1, updatedAt: at(3) });
      expect(await store.context.keys('did:key:a')).toEqual([{ key: 'notes', size: 1, updatedAt: at(3) }]);
      await store.context.setUsedBytes('did:key:a', 1);
      expect(await store.context.partition('did:key:a')).toMatchObject({ usedBytes: 1, destroyedAt: null });
      expect(await store.context.delete('did:key:a', 'notes')).toBe(true);
      expect(await store.context.delete('did:key:a', 'notes')).toBe(false);
      expect(await store.context.get('did:key:a', 'notes')).toBeUndefined();
    });

    it('destroys a partition: salt gone, entries gone, only once', async () => {
      const store = await open();
      await store.agents.insert(agent('did:key:a'));
      await store.context.createPartition('did:key:a', new Uint8Array(32).fill(1), at(1));
      await store.context.put({
        agentId: 'did:key:a',
        key: 'k',
        nonce: bytes(1),
        ciphertext: bytes(2),
        size: 1,
        updatedAt: at(1),
      });
      expect(await store.context.destroyPartition('did:key:a', at(9))).toBe(true);
      expect(await store.context.partition('did:key:a')).toMatchObject({ salt: null, destroyedAt: at(9) });
      expect(await store.context.keys('did:key:a')).toEqual([]);
      expect(await store.context.destroyPartition('did:key:a', at(10))).toBe(false);
      expect(await store.sql.all('SELECT * FROM context_entries')).toEqual([]);
    });
  });

  describe('checkpoints', () => {
    it('numbers checkpoints per agent and returns the latest', async () => {
      const store = await open();
      await store.agents.insert(agent('did:key:a'));
      await store.agents.insert(agent('did:key:b'));
      expect(await store.checkpoints.append('did:key:a', bytes(1), bytes(10), at(1))).toBe(1);
      expect(await store.checkpoints.append('did:key:a', bytes(2), bytes(20), at(2))).toBe(2);
      expect(await store.checkpoints.append('did:key:b', bytes(3), bytes(30), at(3))).toBe(1);
      const latest = await store.checkpoints.latest('did:key:a');
      expect(latest?.seq).toBe(2);
      expect(latest && [...latest.ciphertext]).toEqual([20]);
      expect(await store.checkpoints.deleteAll('did:key:a')).toBe(2);
      expect(await store.checkpoints.latest('did:key:a')).toBeUndefined();
      expect((await store.checkpoints.latest('did:key:b'))?.seq).toBe(1);
    });
  });

  describe('transactions', () => {
    it('commits all writes together, or none when the function throws', async () => {
      const store = await open();
      await store.transaction(async (tx) => {
        await tx.agents.insert(agent('did:key:a'));
        await tx.context.createPartition('did:key:a', bytes(1), at(1));
      });
      await expect(
        store.transaction(async (tx) => {
          await tx.agents.insert(agent('did:key:b'));
          await tx.context.createPartition('did:key:b', bytes(1), at(1));
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      expect((await store.agents.list()).map((a) => a.id)).toEqual(['did:key:a']);
      expect(await store.context.partition('did:key:b')).toBeUndefined();
    });

    it('keeps a write made outside a transaction out of it (it is not lost on rollback)', async () => {
      const store = await open();
      let inside: () => void = () => undefined;
      const entered = new Promise<void>((resolve) => {
        inside = resolve;
      });
      let finish: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const failing = store.transaction(async (tx) => {
        await tx.agents.insert(agent('did:key:tx'));
        inside();
        await gate;
        throw new Error('rollback');
      });
      await entered;
      const outside = store.agents.insert(agent('did:key:outside'));
      finish();
      await expect(failing).rejects.toThrow('rollback');
      await outside;
      expect((await store.agents.list()).map((a) => a.id)).toEqual(['did:key:outside']);
    });

    it('refuses a transaction handle used after the transaction ended', async () => {
      const store = await open();
      let leaked: Parameters<Parameters<Store['transaction']>[0]>[0] | undefined;
      await store.transaction(async (tx) => {
        leaked = tx;
      });
      await expect(leaked?.agents.list()).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    });

    it('rolls back a savepoint that throws and keeps the rest of the transaction (nested too)', async () => {
      const store = await open();
      const shape = { capacity: 5, refill: 0, windowMs: 1 };
      await store.transaction(async (tx) => {
        await tx.quotaBuckets.take('kept', shape, 1, 1);
        await expect(
          tx.savepoint(async () => {
            await tx.quotaBuckets.take('kept', shape, 1, 1);
            await tx.quotaBuckets.take('gone', shape, 1, 1);
            throw new Error('refused');
          }),
        ).rejects.toThrow('refused');
        expect(
          await tx.savepoint(async () => {
            await tx.quotaBuckets.take('kept', shape, 2, 1);
            await expect(
              tx.savepoint(async () => {
                await tx.quotaBuckets.take('kept', shape, 2, 1);
                throw new Error('inner');
              }),
            ).rejects.toThrow('inner');
            return 'released';
          }),
        ).toBe('released');
      });
      expect((await store.quotaBuckets.get('kept'))?.used).toBe(3);
      expect(await store.quotaBuckets.get('gone')).toBeUndefined();
    });

    it('locks a partition row for update inside a transaction', async () => {
      const store = await open();
      await store.agents.insert(agent('did:key:a'));
      await store.context.createPartition('did:key:a', bytes(1), at(1));
      // Two concurrent read-modify-write transactions on the lock must not lose an update.
      const bump = () =>
        store.transaction(async (tx) => {
          const row = await tx.context.partition('did:key:a', { lock: true });
          await tx.context.setUsedBytes('did:key:a', (row?.usedBytes ?? 0) + 1);
        });
      await Promise.all(Array.from({ length: 8 }, bump));
      expect((await store.context.partition('did:key:a'))?.usedBytes).toBe(8);
    });
  });

  describe('quota buckets', () => {
    const hourly = { capacity: 4, refill: 4, windowMs: 3_600_000 };
    const t0 = 1_700_000_000_000;

    it('starts full, takes within the level and refuses beyond it, taking nothing', async () => {
      const store = await open();
      expect((await store.quotaBuckets.take('agent:a', hourly, 3, t0)).taken).toBe(true);
      const refused = await store.quotaBuckets.take('agent:a', hourly, 2, t0);
      expect(refused.taken).toBe(false);
      expect(refused.row?.tokens).toBe(1);
      expect((await store.quotaBuckets.take('agent:a', hourly, 1, t0)).taken).toBe(true);
      expect((await store.quotaBuckets.take('agent:a', hourly, 1, t0 + 1_000)).taken).toBe(false);
      const row = await store.quotaBuckets.get('agent:a');
      expect(row).toMatchObject({ key: 'agent:a', used: 4, capacity: 4 });
    });

    it('refills continuously at the rate, never above capacity, and time never runs backwards', async () => {
      const store = await open();
      expect((await store.quotaBuckets.take('k', hourly, 4, t0)).taken).toBe(true);
      expect((await store.quotaBuckets.take('k', hourly, 1, t0 + 899_999)).taken).toBe(false);
      expect((await store.quotaBuckets.take('k', hourly, 1, t0 + 900_000)).taken).toBe(true);
      // A caller whose clock is behind gets no refill from its past.
      expect((await store.quotaBuckets.take('k', hourly, 1, t0)).taken).toBe(false);
      expect((await store.quotaBuckets.take('k', hourly, 1, t0 + 100 * 3_600_000)).taken).toBe(true);
      expect((await store.quotaBuckets.get('k'))?.tokens).toBe(3);
    });

    it('lists buckets stamped after a time, and restamps only those of the keys still stamped after it, tokens kept', async () => {
      const store = await open();
      const year = 365 * 86_400_000;
      await store.quotaBuckets.take('ahead', hourly, 4, t0 + year);
      await store.quotaBuckets.take('ahead-too', hourly, 1, t0 + 2 * year);
      await store.quotaBuckets.take('now', hourly, 1, t0);
      expect((await store.quotaBuckets.changedAfter(t0 + 60_000)).map(({ key }) => key)).toEqual([
        'ahead-too',
        'ahead',
      ]);
      const before = await store.transaction((tx) =>
        tx.quotaBuckets.restamp(['ahead', 'now', 'missing'], t0 + 60_000, t0),
      );
      expect(before.map(({ key, updatedAt }) => [key, Number(updatedAt)])).toEqual([['ahead', t0 + year]]);
      expect(await store.quotaBuckets.get('ahead')).toMatchObject({ tokens: 0, updatedAt: t0 });
      expect((await store.quotaBuckets.changedAfter(t0 + 60_000)).map(({ key }) => key)).toEqual([
        'ahead-too',
      ]);
      // Empty, it refills from t0 at its rate: one token in 15 min, not a full bucket.
      expect((await store.quotaBuckets.take('ahead', hourly, 1, t0 + 899_999)).taken).toBe(false);
      expect((await store.quotaBuckets.take('ahead', hourly, 1, t0 + 900_000)).taken).toBe(true);
    });

    it('adjusts: a refund is capped at capacity, an overrun leaves a debt', async () => {
      const store = await open();
      await store.quotaBuckets.take('t', { capacity: 100, refill: 0, windowMs: 1 }, 60, t0);
      await store.quotaBuckets.adjust('t', 80, t0);
      expect((await store.quotaBuckets.get('t'))?.tokens).toBe(100);
      await store.quotaBuckets.adjust('t', -130, t0);
      expect((await store.quotaBuckets.get('t'))?.tokens).toBe(-30);
      expect(
        (await store.quotaBuckets.take('t', { capacity: 100, refill: 0, windowMs: 1 }, 1, t0)).taken,
      ).toBe(false);
      await store.quotaBuckets.noteRefusal('t');
      expect((await store.quotaBuckets.get('t'))?.refused).toBe(1);
    });

    it('locks buckets in key order inside a transaction: a take outside waits for the commit', async () => {
      const store = await open();
      const shape = { capacity: 10, refill: 0, windowMs: 1 };
      await store.quotaBuckets.take('b', shape, 1, t0);
      await store.quotaBuckets.take('a', shape, 1, t0);
      const events: string[] = [];
      let outside: Promise<unknown> = Promise.resolve();
      await store.transaction(async (tx) => {
        await tx.quotaBuckets.lockInOrder(
          ['b', 'missing', 'a'].map((key) => ({ key, shape })),
          t0,
        );
        outside = store.quotaBuckets.take('b', shape, 1, t0).then(() => events.push('outside'));
        // Give the outside take every chance to run: it must still wait for this transaction.
        await new Promise((resolve) => setTimeout(resolve, 100));
        await tx.quotaBuckets.take('b', shape, 8, t0);
        events.push('inside');
      });
      await outside;
      expect(events).toEqual(['inside', 'outside']);
      expect((await store.quotaBuckets.get('b'))?.used).toBe(10);
      // PostgreSQL creates a missing bucket full (what a take would), so it is locked too; SQLite
      // locks the whole database instead and creates nothing.
      const missing = await store.quotaBuckets.get('missing');
      if (missing !== undefined) expect(missing).toMatchObject({ tokens: 10, used: 0, refused: 0 });
    });

    it('never lets concurrent takers exceed the bucket together', async () => {
      const store = await open();
      const shape = { capacity: 10, refill: 0, windowMs: 1 };
      const results = await Promise.all(
        Array.from({ length: 30 }, () => store.quotaBuckets.take('c', shape, 1, t0)),
      );
      expect(results.filter((r) => r.taken)).toHaveLength(10);
      expect((await store.quotaBuckets.get('c'))?.used).toBe(10);
    });

    it('prunes only buckets full and idle, never one holding a reservation or a debt', async () => {
      const store = await open();
      const day = 86_400_000;
      const fixed = { capacity: 10, refill: 0, windowMs: 60_000 };
      await store.quotaBuckets.take('idle-full', hourly, 4, t0); // refilled long before t0 + 2 days
      await store.quotaBuckets.take('reserved', fixed, 3, t0); // never refills: the 3 stay taken
      await store.quotaBuckets.take('debt', hourly, 1, t0);
      await store.quotaBuckets.adjust('debt', -1_000, t0);
      await store.quotaBuckets.take('recent', hourly, 1, t0 + 2 * day - 60_000);
      expect(await store.quotaBuckets.prune(t0 + 2 * day, day)).toBe(1);
      expect(await store.quotaBuckets.get('idle-full')).toBeUndefined();
      for (const kept of ['reserved', 'debt', 'recent'])
        expect(await store.quotaBuckets.get(kept), kept).toBeDefined();
      // A late settlement of a pruned bucket credits nothing; the next take starts full, as the limit says.
      await store.quotaBuckets.adjust('idle-full', 4, t0 + 2 * day);
      expect(await store.quotaBuckets.get('idle-full')).toBeUndefined();
      expect((await store.quotaBuckets.take('idle-full', hourly, 4, t0 + 2 * day)).taken).toBe(true);
      expect((await store.quotaBuckets.take('idle-full', hourly, 1, t0 + 2 * day)).taken).toBe(false);
      expect((await store.quotaBuckets.take('reserved', fixed, 8, t0 + 2 * day)).taken).toBe(false);
    });

    it('holds amounts beyond 32 bits (disk bytes)', async () => {
      const store = await open();
      const big = 2 ** 40;
      expect(
        (await store.quotaBuckets.take('b', { capacity: 2 ** 41, refill: 0, windowMs: 1 }, big, t0)).taken,
      ).toBe(true);
      expect((await store.quotaBuckets.get('b'))?.tokens).toBe(2 ** 41 - big);
    });
  });
  describe('logs', () => {
    it('appends access-log rows and pages through them oldest first', async () => {
      const store = await open();
      for (const [n, id] of [
        [1, 'did:key:a'],
        [2, 'did:key:b'],
        [3, 'did:key:a'],
      ] as const) {
        await store.accessLog.append({
          at: at(n),
          agentId: id,
          key: `k${n}`,
          op: 'read',
          bytes: n,
          outcome: 'ok',
          actor: null,
        });
      }
      const forA = await store.accessLog.list({ agentId: 'did:key:a' });
      expect(forA.map((r) => r.key)).toEqual(['k1', 'k3']);
      const first = await store.accessLog.list({ limit: 1 });
      expect(first.map((r) => r.key)).toEqual(['k1']);
      const rest = await store.accessLog.list({ afterId: first[0]?.id ?? 0 });
      expect(rest.map((r) => r.key)).toEqual(['k2', 'k3']);
    });

    it('appends and filters security events', async () => {
      const store = await open();
      await store.securityEvents.append({
        at: at(1),
        kind: 'auth.denied',
        subject: null,
        detail: '{"why":"x"}',
      });
      await store.securityEvents.append({
        at: at(2),
        kind: 'agent.retired',
        subject: 'did:key:a',
        detail: '{}',
      });
      expect((await store.securityEvents.list({ kind: 'agent.retired' })).map((e) => e.subject)).toEqual([
        'did:key:a',
      ]);
      expect(await store.securityEvents.list()).toHaveLength(2);
    });
  });

  describe('credentials and API keys', () => {
    it('upserts credentials by (name, agent, tool) and deletes them', async () => {
      const store = await open();
      const row = {
        name: 'github',
        agentId: 'did:key:a',
        tool: 'gh.*',
        injectKind: 'env',
        injectName: 'GITHUB_TOKEN',
        nonce: bytes(1),
        ciphertext: bytes(2),
        createdAt: at(1),
        updatedAt: at(1),
      };
      await store.credentials.upsert(row);
      await store.credentials.upsert({ ...row, ciphertext: bytes(3), updatedAt: at(2) });
      await store.credentials.upsert({ ...row, agentId: 'did:key:b' });
      const forA = await store.credentials.forAgent('did:key:a');
      expect(forA).toHaveLength(1);
      expect(forA[0] && [...forA[0].ciphertext]).toEqual([3]);
      expect(forA[0]?.createdAt).toBe(at(1));
      expect(await store.credentials.list()).toHaveLength(2);
      expect(await store.credentials.delete('github', 'did:key:a', 'gh.*')).toBe(true);
      expect(await store.credentials.delete('github', 'did:key:a', 'gh.*')).toBe(false);
    });

    it('stores API key hashes and revokes once', async () => {
      const store = await open();
      const row = {
        id: 'k1',
        salt: bytes(1, 2),
        hash: bytes(3, 4),
        scopes: '["tools:call"]',
        label: 'ci',
        createdAt: at(1),
        revokedAt: null,
        agentId: null,
      };
      await store.apiKeys.insert(row);
      await expect(store.apiKeys.insert(row)).rejects.toMatchObject({ code: 'STORE_CONFLICT' });
      const read = await store.apiKeys.get('k1');
      expect(read && [...read.hash]).toEqual([3, 4]);
      expect(await store.apiKeys.revoke('k1', at(2))).toBe(true);
      expect(await store.apiKeys.revoke('k1', at(3))).toBe(false);
      expect(await store.apiKeys.revoke('nope', at(3))).toBe(false);
      expect((await store.apiKeys.list()).map((k) => k.revokedAt)).toEqual([at(2)]);
    });
  });

  it('refuses use after close', async () => {
    const store = await open();
    await store.close();
    await expect(store.agents.list()).rejects.toMatchObject({ code: 'STORE_CLOSED' });
  });
}
