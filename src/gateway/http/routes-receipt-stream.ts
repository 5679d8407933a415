import { streamSSE } from 'hono/streaming';
import { isOacpError } from '../../core/errors.js';
import { WAL_FILE } from '../../log/transparency-log.js';
import { decodeAuditEntry, matchesAuditFilter, parseAuditFilter, parseSince } from '../../node/audit-view.js';
import { httpError } from './errors.js';
import { LogAppendWake } from './log-append-wake.js';
import { type Route, route, scope } from './route.js';
import type { GatewayServices } from './services.js';

/** A comment line this often keeps proxies from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;
/** Entries a stream replays from `from` or Last-Event-ID at most; older ones are paged with GET /v1/receipts. */
const MAX_REPLAY = 1000;
/** Streams open at once per gateway, and per API key (one key cannot take them all); more is 503 with Retry-After. */
const MAX_STREAMS = 64;
const MAX_STREAMS_PER_KEY = 8;
/**
 * How often a stream asks again whether its caller's credentials still hold, while it has
 * receipts to send: a stream opened with a key later revoked (or by an agent later retired) went
 * on sending every receipt of the log for as long as its connection lasted.
 */
const CONFIRM_MS = 1000;

/**
 * `GET /v1/receipts/stream` (scope `audit:read`): server-sent events, one
 * `receipt` event per appended log entry that passes the same filters as
 * `GET /v1/receipts` (tool, agent, decision, since), each with its index as
 * the event id so a client resumes with Last-Event-ID. Registered before
 * `GET /v1/receipts/:index`, which would otherwise take "stream" for an index.
 * Streams sleep until the log grows (LogAppendWake: inotify on the log
 * directory while any stream is open), not on a timer.
 */
export function receiptStreamRoutes(services: GatewayServices): Route[] {
  let open = 0;
  const perKey = new Map<string, number>();
  const wake = new LogAppendWake(
    services.logDir,
    WAL_FILE,
    () => services.log.refresh?.() ?? Promise.resolve(),
  );
  return [
    route('GET', '/v1/receipts/stream', scope('audit:read'), (c) => {
      const { from, limit: _limit, before: _before, ...query } = c.req.query();
      let filter: ReturnType<typeof parseAuditFilter>;
      try {
        filter = parseAuditFilter(query);
      } catch (error) {
        if (isOacpError(error)) throw httpError('BAD_REQUEST', error.message);
        throw error;
      }
      const resume = c.req.header('last-event-id');
      const start = startIndex(
        from ?? (resume === undefined ? undefined : String(Number(resume) + 1)),
        services.log.size,
      );
      // HEAD learns what GET would answer without a stream: one would hold a slot until the
      // connection closed, though its answer ended at the headers (8 HEADs took a key's slots).
      if (c.req.method === 'HEAD') {
        return c.body(null, 200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      }
      const principal = c.get('principal');
      const key = principal.kind === 'api-key' ? principal.keyId : principal.agent.id;
      const mine = perKey.get(key) ?? 0;
      if (open >= MAX_STREAMS || mine >= MAX_STREAMS_PER_KEY) {
        throw httpError(
          'STREAMS_BUSY',
          mine >= MAX_STREAMS_PER_KEY
            ? `this key has ${MAX_STREAMS_PER_KEY} receipt streams open; close one`
            : `${MAX_STREAMS} receipt streams are open; try again later`,
        );
      }
      open += 1;
      perKey.set(key, mine + 1);
      wake.open();
      c.header('cache-control', 'no-store');
      c.header('x-accel-buffering', 'no');
      const answer = streamSSE(c, async (stream) => {
        let closed = false;
        const gone = new AbortController();
        stream.onAbort(() => {
          closed = true;
          gone.abort();
        });
        let confirmed = Date.now();
        /** False (the stream told why and ends) once the caller's credentials no longer hold. */
        const stillHolds = async (): Promise<boolean> => {
          if (Date.now() - confirmed < CONFIRM_MS) return true;
          const gone = await services.auth.stillHolds(principal);
          if (gone === undefined) {
            confirmed = Date.now();
            return true;
          }
          const error = { code: 'UNAUTHENTICATED', message: `the stream ends: ${gone}` };
          await stream.writeSSE({ event: 'error', data: JSON.stringify({ error }) });
          return false;
        };
        try {
          let next = start;
          let quietSince = Date.now();
          await stream.writeSSE({
            event: 'ready',
            data: JSON.stringify({ logSize: services.log.size, from: next }),
          });
          while (!closed && !stream.aborted) {
            const seen = wake.generation;
            const size = services.log.size;
            if ((next < size || Date.now() - quietSince >= HEARTBEAT_MS) && !(await stillHolds())) break;
            for (; next < size && !closed; next += 1) {
              const entry = decodeAuditEntry(
                next,
                await services.log.entry(next),
                services.airlockKeys ?? [],
              );
              const since = filter.since === undefined ? undefined : parseSince(filter.since, Date.now());
              if (!matchesAuditFilter(entry, filter, since)) continue;
              await stream.writeSSE({ event: 'receipt', id: String(next), data: JSON.stringify(entry) });
              quietSince = Date.now();
            }
            if (Date.now() - quietSince >= HEARTBEAT_MS) {
              await stream.write(': keep-alive\n\n');
              quietSince = Date.now();
            }
            await wake.next(seen, HEARTBEAT_MS, gone.signal);
          }
        } finally {
          open -= 1;
          if (open === 0) wake.close();
          const left = (perKey.get(key) ?? 1) - 1;
          if (left === 0) perKey.delete(key);
          else perKey.set(key, left);
        }
      });
      // Hono says `Connection: keep-alive`, which makes Node keep a socket whose client asked
      // `Connection: close` (RFC 9112 §9.6): HTTP/1.1 persists by default, Node decides.
      answer.headers.delete('connection');
      return answer;
    }),
  ];
}

function startIndex(text: string | undefined, size: number): number {
  if (text === undefined) return size;
  if (!/^(0|[1-9][0-9]{0,15})$/.test(text))
    throw httpError('BAD_REQUEST', 'from: a log index (a non-negative integer)');
  return Math.min(size, Math.max(Number(text), size - MAX_REPLAY));
}
