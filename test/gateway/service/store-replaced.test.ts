import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { oacp } from '../../cli/harness.js';
import { type PostgresServer, postgresUnavailable, startPostgres } from '../../store/postgres-server.js';
import { type ChildGateway, startChild } from './child-gateway.js';
import { freshHome } from './node-home.js';

const unavailable = postgresUnavailable();
if (unavailable !== undefined) console.warn(`PostgreSQL store-replaced tests skipped: ${unavailable}`);

/**
 * Gateways on one PostgreSQL database record its id in their homes. The
 * database dropped and made again while they are down (a restore of an empty
 * volume, an operator's slip) would start every quota window full: each
 * gateway refuses to start, naming the store, until its operator accepts it.
 */
describe.skipIf(unavailable !== undefined)(
  'a PostgreSQL store dropped and made again while no gateway ran',
  () => {
    let server: PostgresServer | undefined;
    const removers: Array<() => void> = [];
    const running: ChildGateway[] = [];

    afterAll(async () => {
      for (const gateway of running) gateway.process.kill('SIGKILL');
      await server?.stop();
      for (const remove of removers) remove();
    });

    it('attack: both gateways refuse the new database, naming it, until each home accepts it', async () => {
      const started = await startPostgres();
      if ('skipped' in started)
        throw new Error(`the PostgreSQL test server did not start: ${started.skipped}`);
      server = started;
      const url = await server.createDatabase();
      const nodes = await Promise.all(
        [0, 1].map(async (i) => {
          const home = await freshHome(`oacp-store-replaced-${i}-`);
          removers.push(home.remove);
          const config = join(home.home, 'oacp.yaml');
          writeFileSync(config, stringify({ gateway: { store: url } }));
          return { ...home, config };
        }),
      );
      const start = async (node: (typeof nodes)[number]) => {
        const gateway = await startChild(node.home, node.config, node.env);
        running.push(gateway);
        return gateway;
      };
      const stop = async (gateway: ChildGateway) => {
        gateway.process.kill('SIGKILL');
        await gateway.exited;
      };
      for (const node of nodes) await stop(await start(node));
      // Known store: a restart after kill -9 is no reason to refuse.
      for (const node of nodes) await stop(await start(node));

      const admin = new pg.Client({ connectionString: server.url });
      await admin.connect();
      const name = new URL(url).pathname.slice(1);
      await admin.query(`DROP DATABASE ${name}`);
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();

      for (const node of nodes) {
        const refused = await start(node).then(
          () => 'started',
          (error: unknown) => String(error),
        );
        expect(refused).toContain('STORE_REPLACED');
        expect(refused).toContain(`the store at ${url} is not the one this home last used`);
        expect(refused).toContain(`oacp --home ${node.home} store accept --store URL`);
        expect(refused).not.toMatch(/^\s+at /m);
      }
      const [first, second] = nodes;
      if (first === undefined || second === undefined) throw new Error('two homes');
      const status = await oacp(['--home', first.home, 'store', 'status', '--store', url]);
      expect(status.code).toBe(1);
      expect(status.stdout).toContain(`${url}: no: the store at ${url} is not the one this home last used`);

      const accepted = await oacp(['--home', first.home, 'store', 'accept', '--store', url]);
      expect(accepted.code).toBe(0);
      expect(accepted.stdout).toMatch(
        /accepted store [0-9a-f]{12} at postgres:\/\/.* in place of [0-9a-f]{12}/,
      );
      const keyFile = join(first.home, 'gateway-admin.key');
      const oldKey = readFileSync(keyFile, 'utf8');
      await stop(await start(first));
      // The new store has no key: a new admin key in place of the old one, which opens nothing now.
      expect(readFileSync(keyFile, 'utf8')).toMatch(/^\S+\n$/);
      expect(readFileSync(keyFile, 'utf8')).not.toBe(oldKey);
      // One operator's word is for one home: the other still refuses.
      expect(await start(second).then(() => 'started', String)).toContain('STORE_REPLACED');
    }, 180_000);
  },
);

describe('a --store URL with a password in a refusal', () => {
  it('attack: `oacp store` and `oacp keys` name a store they cannot open without its password', async () => {
    const home = await freshHome('oacp-store-secret-');
    try {
      const url = 'postgres://oacp:hunter2-secret@127.0.0.1:1/oacp';
      for (const args of [
        ['store', 'status', '--store', url],
        ['store', 'accept', '--store', url],
        ['keys', 'list', '--store', url],
      ]) {
        const result = await oacp(['--home', home.home, ...args]);
        expect(result.code, args.join(' ')).toBe(2);
        expect(result.stderr).toContain('--store: cannot open postgres://oacp:***@127.0.0.1:1/oacp');
        expect(`${result.stdout}${result.stderr}`).not.toContain('hunter2');
        expect(result.stderr.split('\n')).toHaveLength(1);
      }
    } finally {
      home.remove();
    }
  }, 60_000);
});
