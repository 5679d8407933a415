import { describeError } from '../../core/errors.js';
import type { Dialect } from '../dialect.js';
import { storeError } from '../errors.js';
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
import { requestNonceRepo } from './request-nonces.js';
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
    requestNonces: requestNonceRepo(sql),
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
    sql,
    async savepoint(fn) {
      const name = `oacp_sp${++depth}`;
      await sql.run(`SAVEPOINT ${name}`);
      try {
        const result = await fn();
        await sql.run(`RELEASE SAVEPOINT ${name}`);
        return result;
      } catch (error) {
        try {
          await sql.run(`ROLLBACK TO SAVEPOINT ${name}`);
          await sql.run(`RELEASE SAVEPOINT ${name}`);
        } catch (rollbackError) {
          // fn's writes may still be in the transaction (or the engine already ended it, as SQLite
          // does on a full disk): never let the caller treat fn's error as handled. This error is
          // not fn's, so it fails the whole transaction.
          throw storeError(
            'STORE_QUERY_FAILED',
            `a savepoint could not be rolled back (${describeError(rollbackError)}) after: ${describeError(error)}`,
          );
        }
        throw error;
      } finally {
        depth--;
      }
    },
  };
}
