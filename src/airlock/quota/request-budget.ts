import type { Quotas } from '../../capability/manifest.js';
import type { RequestLimiter } from '../egress/gate.js';
import { QuotaLedger } from './ledger.js';

/**
 * `network_requests_per_min` (with `burst`) as an egress limiter: a token bucket in memory, full
 * when made. A caller that starts one server many times (restarts, one server per --http session)
 * makes one and passes it to every start (`ProcessSpec.egressLimiter`), so a server cannot come
 * back with a full budget by exiting.
 */
export function requestBudget(quotas: Quotas): RequestLimiter {
  const ledger = new QuotaLedger(quotas);
  return { take: () => ledger.consume('network_requests_per_min') };
}
