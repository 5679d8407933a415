import type { A2aSecurityEvent } from '../../a2a/agent.js';
import type { Clock } from '../../airlock/quota/clock.js';
import {
  RefusalReceiptLimiter,
  type RefusalReceiptLimits,
  type RefusalSubject,
} from '../../airlock/quota/refusal-limit.js';
import type { Logger } from '../observability/logger.js';

/** What the gateway does with one A2A security event: count it, and log it within the limits. */
export interface RefusalWarnings {
  readonly onEvent: (event: A2aSecurityEvent) => void;
  /** Logs the counts of every window now (on close, before the logger goes). */
  readonly flush: () => Promise<void>;
}

/**
 * The operator-log lines of A2A refusals. A refusal of unauthenticated input
 * (`event.unauthenticated`) is one anyone on the network can cause, so its
 * warning is limited as its receipt is (a2a.refusal_receipts: the same
 * RefusalReceiptLimiter, per client address and overall, its own buckets):
 * past the limits it is not logged on its own but counted, and each agent's
 * count is logged once per window as `a2a refusals not logged` (how many, from
 * how many sources, the busiest ones). Every event is still counted by `count`
 * (the security metric); authenticated callers' refusals are always logged.
 */
export function refusalWarnings(
  logger: Logger,
  limits: RefusalReceiptLimits,
  count: (event: A2aSecurityEvent) => void,
  clock?: Clock,
): RefusalWarnings {
  const limiter = new RefusalReceiptLimiter<RefusalSubject>(
    limits,
    async (summary) => {
      logger.warn('a2a refusals not logged', {
        agent: summary.agent.name,
        count: summary.count,
        sources: summary.sources,
        top: summary.top,
        from: summary.from.toISOString(),
        to: summary.to.toISOString(),
      });
    },
    clock,
  );
  return {
    onEvent: (event) => {
      count(event);
      const { unauthenticated, ...fields } = event;
      if (unauthenticated !== undefined && !limiter.admit({ name: event.agent }, unauthenticated.source))
        return;
      logger.warn('a2a request refused', {
        ...fields,
        ...(unauthenticated === undefined ? {} : { source: unauthenticated.source }),
      });
    },
    flush: () => limiter.flushAll(),
  };
}
