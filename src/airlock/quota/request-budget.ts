import type { Quotas } from '../../capability/manifest.js';
import { allow, type Decision, deny } from '../../core/decision.js';
import { describeError } from '../../core/errors.js';
import type { RequestLimiter } from '../egress/gate.js';
import { type QuotaEngine, type QuotaRequest, STORE_QUOTA } from './engine.js';
import { QuotaLedger } from './ledger.js';
import { bucketShape, rateSpec } from './rate-quotas.js';

const QUOTA = 'network_requests_per_min';

/** Where a budget outlives the process: a bucket of the home's quota engine. */
export interface StoredBudget {
  /** The home's quota engine (opened at the first request, not at start). */
  engine(): Promise<QuotaEngine>;
  /** The bucket's name: the same for every process on the home and after every restart. */
  readonly key: string;
}

/**
 * `network_requests_per_min` (with `burst`) as an egress limiter. With `stored` it is a bucket of
 * the home's quota engine (its SQLite store): every start of the server, every `oacp mcp run` of it
 * on that home, and a new process after a stop take from the one budget, and a store that cannot
 * answer refuses. Without it (no home store: `oacp run`'s own sandboxes) a token bucket in memory,
 * full when made; a caller that starts one server many times passes one to every start
 * (`ProcessSpec.egressLimiter`), so a server cannot come back with a full budget by exiting.
 */
export function requestBudget(quotas: Quotas, stored?: StoredBudget): RequestLimiter {
  if (stored === undefined) {
    const ledger = new QuotaLedger(quotas);
    return { take: async () => ledger.consume(QUOTA) };
  }
  const spec = rateSpec(quotas, QUOTA);
  const request: QuotaRequest = {
    key: stored.key,
    quota: QUOTA,
    label: spec.label,
    shape: bucketShape(spec),
    amount: 1,
  };
  return {
    take: async (): Promise<Decision> => {
      let engine: QuotaEngine;
      try {
        engine = await stored.engine();
      } catch (error) {
        return deny(
          `quota ${QUOTA} could not be checked: the home's quota store did not open (${describeError(error)}); refused`,
          STORE_QUOTA,
        );
      }
      const admission = await engine.reserve([request]);
      if (admission.ok) return allow(`within quota ${QUOTA}: limit ${spec.label}`, `quota.${QUOTA}`);
      const { quota, reason } = admission.refusal;
      return deny(reason, quota === STORE_QUOTA ? STORE_QUOTA : `quota.${QUOTA}`);
    },
  };
}
