import type { BucketShape } from '../../store/types.js';

/**
 * One bucket a caller wants tokens from. `key` names the state (the same
 * string on every node and after every restart); `quota` names the rule in
 * refusals (`agent.api_calls_per_hour`); `label` says the limit as people
 * read it (`4/hour`).
 */
export interface QuotaRequest {
  readonly key: string;
  readonly quota: string;
  readonly label: string;
  readonly shape: BucketShape;
  readonly amount: number;
}

/** Tokens taken and not yet settled: settle with what was really used, or release. */
export interface Reservation {
  readonly parts: readonly QuotaRequest[];
}

/** The quota a refusal names when the engine's state could not be read or written. */
export const STORE_QUOTA = 'quota.store';

export interface QuotaRefusal {
  /** The quota that said no (`agent.api_calls_per_hour`, or `quota.store` when the store could not answer). */
  readonly quota: string;
  readonly reason: string;
  /** When waiting helps: the milliseconds until the amount fits. */
  readonly retryAfterMs?: number;
}

export type Admission =
  | { readonly ok: true; readonly reservation: Reservation }
  | { readonly ok: false; readonly refusal: QuotaRefusal };

export interface BucketUsage {
  readonly used: number;
  /** Whole tokens that could be taken now. */
  readonly available: number;
  readonly refused: number;
}

/**
 * The one quota engine: every quota the gateway applies (agent, tool, API
 * key, network, LLM tokens) is a bucket here. `reserve` takes from every
 * bucket asked or from none (a refusal costs nothing); `settle` corrects a
 * reservation to what was really used (LLM tokens known only afterwards);
 * `release` gives it all back (the work never happened). It fails closed:
 * when its state cannot be read or written, `reserve` refuses, naming why.
 */
export interface QuotaEngine {
  reserve(requests: readonly QuotaRequest[]): Promise<Admission>;
  /** Each part is corrected to `actual` units (the same for every part). */
  settle(reservation: Reservation, actual: number): Promise<void>;
  release(reservation: Reservation): Promise<void>;
  usage(key: string, shape: BucketShape): Promise<BucketUsage>;
}
