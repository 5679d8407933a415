import { allow, type Decision, deny } from '../core/decision.js';

/** A limit on how many calls an agent may make; taken only for calls about to be forwarded. */
export interface CallQuota {
  take(agent: string, tool: string): Decision;
}

/**
 * `--quota-calls N/min`: a token bucket per agent holding N tokens, refilled
 * continuously at N per minute, so bursts up to N are served and the long-run
 * rate is N a minute.
 */
export class CallRateQuota implements CallQuota {
  readonly #perMinute: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(perMinute: number, now: () => number = () => performance.now()) {
    this.#perMinute = perMinute;
    this.#now = now;
  }

  take(agent: string): Decision {
    const now = this.#now();
    const bucket = this.#buckets.get(agent) ?? { tokens: this.#perMinute, at: now };
    bucket.tokens = Math.min(this.#perMinute, bucket.tokens + ((now - bucket.at) * this.#perMinute) / 60_000);
    bucket.at = now;
    this.#buckets.set(agent, bucket);
    if (bucket.tokens < 1) {
      const waitS = Math.ceil(((1 - bucket.tokens) * 60) / this.#perMinute);
      return deny(`call quota exceeded: ${this.#perMinute} calls per minute; retry in about ${waitS} s`);
    }
    bucket.tokens -= 1;
    return allow(`within call quota (${Math.floor(bucket.tokens)} of ${this.#perMinute} per minute left)`);
  }
}
