import type { Clock } from '../airlock/quota/clock.js';
import { RefusalReceiptLimiter, type RefusalReceiptLimits } from '../airlock/quota/refusal-limit.js';
import type { BridgeEvent } from './session-types.js';

/**
 * Lines of clients' refusals `oacp mcp run` writes on its own, per session and per
 * minute for all (each also its burst); past them the refusals are counted, not logged.
 */
export const CLIENT_REFUSAL_LOG_LIMITS: RefusalReceiptLimits = {
  perSourcePerMinute: 10,
  overallPerMinute: 60,
};

/** The operator-log lines of the events a client causes (see clientRefusalLog). */
export interface ClientRefusalLog {
  /** Whether `event` of `server`'s `session` gets its own line; when not, it is counted for the summary. */
  admit(server: string, event: BridgeEvent, session: string): boolean;
  /**
   * A request `--http` refused for want of the client token (a 401, nothing of it read):
   * its line, per client address and overall within the same limits, and always counted.
   */
  unauthenticated(address: string, why: string): void;
  /** Logs the counts of every window now, and how many requests were refused unauthenticated (on close). */
  flush(): Promise<void>;
}

/**
 * The bridge's log lines of what a client sent that was refused (an invalid message,
 * a message it could not be sent back). Any process that reaches `--http` can send
 * those as fast as it likes, one line each: unbounded, they would fill the operator's
 * disk. They are limited with the one refusal limiter (airlock/quota/refusal-limit.ts),
 * per session and overall: past the limits an event is counted instead, and each
 * server's count is logged once per window (and at close) as one summary line. The
 * refusals themselves, their answers and receipts, are unchanged; every other event
 * (the server's own, a receipt not written) is always logged.
 */
export function clientRefusalLog(
  log: (line: string) => void,
  limits: RefusalReceiptLimits = CLIENT_REFUSAL_LOG_LIMITS,
  clock?: Clock,
): ClientRefusalLog {
  const limiter = new RefusalReceiptLimiter(
    limits,
    async (summary) => {
      const top = summary.top.map(({ source, count }) => `${source}: ${count}`).join(', ');
      log(
        `oacp: ${summary.agent.name}: ${summary.count} more refused client messages not logged from ${summary.from.toISOString()} to ${summary.to.toISOString()} (${summary.sources} session${summary.sources === 1 ? '' : 's'}; most: ${top}; at most ${limits.perSourcePerMinute} lines a minute per session, ${limits.overallPerMinute} for all)`,
      );
    },
    clock,
  );
  const unauthenticated = new RefusalReceiptLimiter(
    limits,
    async (summary) => {
      const top = summary.top.map(({ source, count }) => `${source}: ${count}`).join(', ');
      log(
        `oacp: ${summary.count} more requests without the client token (401) not logged from ${summary.from.toISOString()} to ${summary.to.toISOString()} (${summary.sources} address${summary.sources === 1 ? '' : 'es'}; most: ${top})`,
      );
    },
    clock,
  );
  let refused = 0;
  return {
    admit: (server, event, session) => !causedByClient(event) || limiter.admit({ name: server }, session),
    unauthenticated: (address, why) => {
      refused++;
      if (unauthenticated.admit({ name: 'http' }, address))
        log(
          `oacp: refused a request from ${address}: ${why} (401; the client token is needed, nothing read)`,
        );
    },
    flush: async () => {
      await Promise.all([limiter.flushAll(), unauthenticated.flushAll()]);
      if (refused > 0)
        log(
          `oacp: ${refused} request${refused === 1 ? '' : 's'} refused for want of the client token while the bridge ran (401, nothing of them read, no receipt)`,
        );
    },
  };
}

/** The events a client can cause at will, by what it sends or how it reads. */
function causedByClient(event: BridgeEvent): boolean {
  return (
    (event.type === 'invalid-message' && event.from === 'client') ||
    (event.type === 'send-failed' && event.to === 'client') ||
    // Said once a session, but a client may open sessions at will.
    event.type === 'call-hint'
  );
}
