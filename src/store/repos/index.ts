import type { Dialect } from '../dialect.js';
import type { Sql } from '../sql.js';
import type { Repos } from '../types.js';
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
