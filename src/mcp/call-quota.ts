import { type Clock, monotonicClock } from '../airlock/quota/clock.js';
import { TokenBucket } from '../airlock/quota/token-bucket.js';
import { allow, type Decision, deny } from '../core/decision.js';

/** A limit on how many calls an agent may make; taken only for calls about to be forwarded. */
export interface CallQuota {
  take(agent: string, tool: string): Decision;
}

/**
 * `--quota-calls N/min`: the Airlock's token bucket, one per agent, holding N
 * tokens and refilled at N a minute, so a burst of up to N is served and the
 * long-run rate is N a minute. A refusal is a hard cutoff, not a queue.
 */
export class CallRateQuota implements CallQuota {
  readonly #perMinute: number;
  readonly #clock: Clock;
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(perMinute: number, clock: Clock = monotonicClock) {
    this.#perMinute = perMinute;
    this.#clock = clock;
  }

  take(agent: string): Decision {
    let bucket = this.#buckets.get(agent);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.#perMinute, this.#perMinute / 60_000, this.#clock);
      this.#buckets.set(agent, bucket);
    }
    if (!bucket.tryTake(1)) {
      const waitS = Math.ceil(bucket.msUntil(1) / 1000);
      return deny(
        `call quota exceeded: ${this.#perMinute} calls per minute; retry in about ${waitS} s`,
        'oacp/quota',
      );
    }
    return allow(
      `within call quota (${Math.floor(bucket.available())} of ${this.#perMinute} per minute left)`,
    );
  }
}
