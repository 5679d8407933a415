import { chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.js';
import { oacp, tempDir } from '../cli/harness.js';

/** Every command that opens a home's store goes through the home's record of it (docs/quotas.md). */
describe('commands on a store that is not the one the home recorded', () => {
  it('attack: `oacp keys create|list|revoke` on a gateway.db replaced while no gateway ran refuse STORE_REPLACED and write nothing', async () => {
    const root = tempDir();
    chmodSync(root, 0o755);
    const home = join(root, 'home');
    const db = join(home, 'gateway.db');
    try {
      expect((await oacp(['--home', home, 'init'])).code).toBe(0);
      // The home's store, recorded by its first user.
      const made = await oacp(['--home', home, 'keys', 'create', '--scope', 'audit:read']);
      expect(made.code, made.stderr).toBe(2); // no store yet: keys never make one
      expect((await oacp(['--home', home, 'store', 'accept'])).code).toBe(0);
      const first = await oacp(['--home', home, 'keys', 'create', '--scope', 'audit:read']);
      expect(first.code, first.stderr).toBe(0);
      const id = /oacp_([0-9a-f]{16})/.exec(first.stdout)?.[1];
      expect(id).toMatch(/^[0-9a-f]{16}$/);

      // Replaced while nothing ran: an empty store of its own id in its place.
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${db}${suffix}`, { force: true });
      await (await openStore(db)).close();

      for (const args of [
        ['keys', 'create', '--scope', 'audit:read'],
        ['keys', 'list'],
        ['keys', 'revoke', id ?? ''],
      ]) {
        const refused = await oacp(['--home', home, ...args]);
        expect(refused.code, args.join(' ')).toBe(1);
        expect(refused.stderr).toContain('STORE_REPLACED');
        expect(refused.stderr).toContain(`the store at ${db} is not the one this home last used`);
        expect(refused.stderr).toContain(`oacp --home ${home} store accept`);
        expect(refused.stdout).toBe('');
        expect(refused.stderr.split('\n')).toHaveLength(1);
      }
      // Nothing was written to the replaced store.
      const store = await openStore(db);
      try {
        expect(await store.sql.all('SELECT id FROM api_keys')).toEqual([]);
      } finally {
        await store.close();
      }
      // The refusal lasts until the operator's word, then the store there is the home's.
      expect((await oacp(['--home', home, 'store', 'status'])).code).toBe(1);
      expect((await oacp(['--home', home, 'store', 'accept'])).code).toBe(0);
      const after = await oacp(['--home', home, 'keys', 'create', '--scope', 'audit:read']);
      expect(after.code, after.stderr).toBe(0);
      expect(after.stdout).toMatch(/^oacp_[0-9a-f]{16}/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});
