import { afterAll, beforeAll, describe } from 'vitest';
import { type PostgresServer, postgresUnavailable, startPostgres } from './postgres-server.js';
import { storeContract } from './store-contract.js';

const unavailable = postgresUnavailable();
if (unavailable !== undefined) console.warn(`PostgreSQL store tests skipped: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('PostgreSQL store', () => {
  let server: PostgresServer | undefined;
  let failed: string | undefined;

  beforeAll(async () => {
    const started = await startPostgres();
    if ('skipped' in started) failed = started.skipped;
    else server = started;
  });

  afterAll(async () => {
    await server?.stop();
  });

  storeContract(async () => {
    // The binaries exist, so a server that did not start is a failure to report, not a skip.
    if (server === undefined)
      throw new Error(`the PostgreSQL test server did not start: ${failed ?? 'unknown'}`);
    return server.createDatabase();
  });
});
