import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { type PostgresServer, postgresUnavailable, startPostgres } from '../../store/postgres-server.js';

/**
 * Store locations for gateway foundation tests, one kind per backend: a fresh
 * SQLite file, or a fresh database on a throwaway PostgreSQL server (started
 * once per test file, only if a suite asks for it).
 */
export interface Backend {
  readonly name: 'sqlite' | 'postgres';
  readonly skip: string | undefined;
  newLocation(): Promise<string>;
}

export function testBackends(): readonly Backend[] {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-gw-'));
  let n = 0;
  let server: PostgresServer | undefined;
  let starting: Promise<PostgresServer> | undefined;
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const unavailable = postgresUnavailable();
  if (unavailable !== undefined) console.warn(`PostgreSQL variants skipped: ${unavailable}`);
  return [
    {
      name: 'sqlite',
      skip: undefined,
      async newLocation() {
        n += 1;
        return join(dir, `s${n}`, 'gateway.db');
      },
    },
    {
      name: 'postgres',
      skip: unavailable,
      async newLocation() {
        starting ??= startPostgres().then((started) => {
          if ('skipped' in started)
            throw new Error(`the PostgreSQL test server did not start: ${started.skipped}`);
          server = started;
          return started;
        });
        return (await starting).createDatabase();
      },
    },
  ];
}
