import type { Dialect } from '../dialect.js';
import type { Sql } from '../sql.js';
import type { Repos, TransactionRepos } from '../types.js';
import { a2aTaskRepo } from './a2a-tasks.js';
import { accessLogRepo } from './access-log.js';
import { agentRepo } from './agents.js';
import { apiKeyRepo } from './api-keys.js';
import { checkpointRepo } from './checkpoints.js';
import { contextRepo } from './context.js';
import { credentialRepo } from './credentials.js';
import { quotaBucketRepo } from './quota-buckets.js';
import { securityEventRepo } from './security-events.js';

/** The repositories over one Sql: the store's own, or a transaction's. */
export function createRepos(sql: Sql, dialect: Dialect): Repos {
  return {
    agents: agentRepo(sql),
    context: contextRepo(sql, dialect),
    checkpoints: checkpointRepo(sql),
    accessLog: accessLogRepo(sql),
    credentials: credentialRepo(sql),
    apiKeys: apiKeyRepo(sql),
    quotaBuckets: quotaBucketRepo(sql, dialect),
    securityEvents: securityEventRepo(sql),
    a2aTasks: a2aTaskRepo(sql),
  };
}

/**
 * The repositories of one open transaction, with savepoints on its Sql. The
 * names count up per transaction (no shared state), so savepoints may nest.
 */
export function createTransactionRepos(sql: Sql, dialect: Dialect): TransactionRepos {
  let depth = 0;
  return {
    ...createRepos(sql, dialect),
    async savepoint(fn) {
      const name = `oacp_sp${++depth}`;
      await sql.run(`SAVEPOINT ${name}`);
      try {
        const result = await fn();
        await sql.run(`RELEASE SAVEPOINT ${name}`);
        return result;
      } catch (error) {
        await sql.run(`ROLLBACK TO SAVEPOINT ${name}`);
        await sql.run(`RELEASE SAVEPOINT ${name}`);
        throw error;
      } finally {
        depth--;
      }
    },
  };
}
