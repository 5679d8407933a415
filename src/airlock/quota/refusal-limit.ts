import { type Clock, monotonicClock } from './clock.js';
import { TokenBucket } from './token-bucket.js';

/**
 * How many refusals of unauthenticated input get a receipt of their own (oacp.yaml
 * `a2a.refusal_receipts`, docs/receipts.md). Anyone on the network can cause such a
 * refusal, and each receipt is a signed, fsynced log entry: unbounded, they would let
 * anyone grow the log and spend the node's signing CPU as fast as they can send.
 */
export interface RefusalReceiptLimits {
  /** Receipts one source (client address) may cause per minute; also its burst. */
  readonly perSourcePerMinute: number;
  /** Receipts all unauthenticated sources together may cause per minute; also its burst. */
  readonly overallPerMinute: number;
}

export const DEFAULT_REFUSAL_RECEIPT_LIMITS: RefusalReceiptLimits = {
  perSourcePerMinute: 30,
  overallPerMinute: 300,
};

/** The refusals past the limits are summed per agent over this window, then recorded once. */
export const SUPPRESSION_WINDOW_MS = 60_000;

/** Sources remembered at once; past it, idle ones are forgotten, then new ones share one bucket. */
const MAX_SOURCES = 10_000;
const OTHER_SOURCES = 'other sources';
/** The sources named in the operator's event (never in the public receipt). */
const TOP_SOURCES = 10;

/** What refusals are counted under: an A2A agent, an MCP server (its name keys the window). */
export interface RefusalSubject {
  readonly name: string;
}

/** The refusals one agent answered without a receipt (or a log line) over one window. */
export interface SuppressedRefusals<S extends RefusalSubject = RefusalSubject> {
  readonly agent: S;
  readonly count: number;
  readonly sources: number;
  /** The sources with the most, most first (at most TOP_SOURCES): for the operator, not the public log. */
  readonly top: readonly { readonly source: string; readonly count: number }[];
  readonly from: Date;
  readonly to: Date;
}

interface Pending<S extends RefusalSubject> {
  readonly agent: S;
  readonly since: number;
  readonly from: Date;
  count: number;
  readonly bySource: Map<string, number>;
}

/**
 * Which refusals of unauthenticated input get a receipt of their own: a token bucket per
 * source and one for all (the quota engine's TokenBucket). Past either, the refusal is
 * answered the same but counted instead, and each agent's count is recorded once per
 * window (`onSuppressed`: one summary receipt and a security event), at the first refusal
 * after the window or when its timer fires. Refusals of authenticated callers never come
 * here: they are always receipted. The gateway's operator log limits its warnings of
 * those refusals with another instance (src/gateway/runtime/refusal-warnings.ts), and
 * `oacp mcp run` its lines of clients' invalid messages (src/mcp/client-refusal-log.ts)
 * and the receipts of the client messages it refuses (src/mcp/refusal-receipts.ts).
 * Here, under the quota engine, so the A2A mount, the MCP bridge and the gateway share
 * the one class (the layering test keeps src/mcp from importing src/a2a).
 */
export class RefusalReceiptLimiter<S extends RefusalSubject = RefusalSubject> {
  private readonly overall: TokenBucket;
  private readonly sources = new Map<string, TokenBucket>();
  private readonly pending = new Map<string, Pending<S>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: RefusalReceiptLimits,
    private readonly onSuppressed: (summary: SuppressedRefusals<S>) => Promise<void>,
    private readonly clock: Clock = monotonicClock,
  ) {
    this.overall = perMinute(limits.overallPerMinute, clock);
  }

  /** Whether this refusal from `source` gets its own receipt; when not, it is counted for its summary. */
  admit(agent: S, source: string): boolean {
    this.flushDue();
    const bucket = this.bucketOf(source);
    if (bucket.available() >= 1 && this.overall.available() >= 1) {
      bucket.tryTake(1);
      this.overall.tryTake(1);
      return true;
    }
    this.count(agent, source);
    return false;
  }

  /** Records every window that has ended. */
  flushDue(): void {
    const now = this.clock();
    for (const [name, pending] of this.pending) {
      if (now - pending.since < SUPPRESSION_WINDOW_MS) continue;
      this.pending.delete(name);
      void this.emit(pending);
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.arm();
  }

  /** Records every window now, ended or not (on shutdown, before the log closes). */
  async flushAll(): Promise<void> {
    const pending = [...this.pending.values()];
    this.pending.clear();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all(pending.map((one) => this.emit(one)));
  }

  /** The summary of one window; a failure to record it is not the caller's (the refusals stand). */
  private emit(pending: Pending<S>): Promise<void> {
    const top = [...pending.bySource]
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP_SOURCES)
      .map(([source, count]) => ({ source, count }));
    return this.onSuppressed({
      agent: pending.agent,
      count: pending.count,
      sources: pending.bySource.size,
      top,
      from: pending.from,
      to: new Date(),
    }).catch(() => undefined);
  }

  private count(agent: S, source: string): void {
    let pending = this.pending.get(agent.name);
    if (pending === undefined) {
      pending = { agent, since: this.clock(), from: new Date(), count: 0, bySource: new Map() };
      this.pending.set(agent.name, pending);
    }
    pending.count += 1;
    const key = pending.bySource.has(source) || pending.bySource.size < MAX_SOURCES ? source : OTHER_SOURCES;
    pending.bySource.set(key, (pending.bySource.get(key) ?? 0) + 1);
    this.arm();
  }

  /** A flood that stops is still summed up once its window ends; the timer keeps no process alive. */
  private arm(): void {
    if (this.timer !== undefined || this.pending.size === 0) return;
    const now = this.clock();
    const due = Math.min(...[...this.pending.values()].map((p) => p.since + SUPPRESSION_WINDOW_MS - now));
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.flushDue();
      },
      Math.max(1_000, due),
    );
    this.timer.unref();
  }

  private bucketOf(source: string): TokenBucket {
    const known = this.sources.get(source);
    if (known !== undefined) return known;
    if (this.sources.size >= MAX_SOURCES) {
      // A full bucket is one whose source has been quiet for a minute: forgetting it changes nothing.
      for (const [name, bucket] of this.sources) {
        if (bucket.available() >= bucket.capacity) this.sources.delete(name);
      }
    }
    const key = this.sources.size < MAX_SOURCES ? source : OTHER_SOURCES;
    let bucket = this.sources.get(key);
    if (bucket === undefined) {
      bucket = perMinute(this.limits.perSourcePerMinute, this.clock);
      this.sources.set(key, bucket);
    }
    return bucket;
  }
}

function perMinute(limit: number, clock: Clock): TokenBucket {
  return new TokenBucket(limit, limit / 60_000, clock);
}
