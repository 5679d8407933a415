import type { Quotas } from '../../capability/manifest.js';
import { allow, type Decision, deny } from '../../core/decision.js';
import { type Clock, monotonicClock } from './clock.js';
import { QuotaExceededError } from './errors.js';
import { RATE_QUOTAS, type RateQuota, type RateSpec, rateSpec } from './rate-quotas.js';
import { RequestMeter } from './request-meter.js';
import { TokenBucket } from './token-bucket.js';

export interface RateUsage {
  readonly limit: string;
  /** Units granted since the ledger was made (bytes for disk I/O). */
  readonly used: number;
  /** Units that could be taken right now. */
  readonly available: number;
  readonly refused: number;
}

export type QuotaUsage = Readonly<Record<RateQuota, RateUsage>>;

interface Meter {
  readonly spec: RateSpec;
  readonly bucket: TokenBucket;
  used: number;
  refused: number;
}

/**
 * The rate quotas of one principal (an agent, a tool, a tenant): how many
 * network requests, API calls and disk bytes it may use over time. Callers ask
 * `check` before starting something (pre-flight) and `consume` as it happens
 * (live accounting); a refusal names the quota and its limit and consumes
 * nothing. Per-request limits (CPU, output, tokens, memory) live in the
 * `RequestMeter` from `startRequest()`.
 */
export class QuotaLedger {
  private readonly meters: Map<RateQuota, Meter>;

  /**
   * `rates: 'elsewhere'` is for a sandbox whose host charges the rate quotas
   * on a persistent QuotaEngine (the gateway does, through the sandbox's
   * bindings): then `check` and `consume` allow without metering, so a call is
   * counted once, in one place. Per-request limits stay here either way.
   */
  constructor(
    readonly quotas: Quotas,
    private readonly clock: Clock = monotonicClock,
    private readonly options: { readonly rates?: 'here' | 'elsewhere' } = {},
  ) {
    this.meters = new Map(
      RATE_QUOTAS.map((name) => {
        const spec = rateSpec(quotas, name);
        const bucket = new TokenBucket(spec.capacity, (spec.limit * spec.unitScale) / spec.windowMs, clock);
        return [name, { spec, bucket, used: 0, refused: 0 }];
      }),
    );
  }

  /** Would `amount` fit now? Consumes nothing. */
  check(name: RateQuota, amount = 1): Decision {
    const meter = this.meter(name);
    if (this.options.rates === 'elsewhere') return this.chargedElsewhere(name);
    return meter.bucket.available() >= amount ? this.allowed(name, meter) : this.refusal(name, meter, amount);
  }

  /** Takes `amount` if it fits; otherwise takes nothing and says why. */
  consume(name: RateQuota, amount = 1): Decision {
    const meter = this.meter(name);
    if (this.options.rates === 'elsewhere') return this.chargedElsewhere(name);
    if (!meter.bucket.tryTake(amount)) {
      meter.refused += 1;
      return this.refusal(name, meter, amount);
    }
    meter.used += amount;
    return this.allowed(name, meter);
  }

  consumeOrThrow(name: RateQuota, amount = 1): void {
    const decision = this.consume(name, amount);
    if (decision.effect === 'deny') {
      throw new QuotaExceededError(name, this.meter(name).spec.limit, decision.reason);
    }
  }

  startRequest(): RequestMeter {
    return new RequestMeter(this.quotas, this.clock);
  }

  usage(): QuotaUsage {
    const entry = (name: RateQuota): RateUsage => {
      const meter = this.meter(name);
      return {
        limit: meter.spec.label,
        used: meter.used,
        available: Math.floor(meter.bucket.available()),
        refused: meter.refused,
      };
    };
    return {
      network_requests_per_min: entry('network_requests_per_min'),
      api_calls_per_hour: entry('api_calls_per_hour'),
      disk_io_mb_per_s: entry('disk_io_mb_per_s'),
    };
  }

  private meter(name: RateQuota): Meter {
    const meter = this.meters.get(name);
    if (meter === undefined) throw new RangeError(`unknown rate quota ${name}`);
    return meter;
  }

  private chargedElsewhere(name: RateQuota): Decision {
    return allow(`quota ${name} is charged by the host's quota engine`, `quota.${name}`);
  }

  private allowed(name: RateQuota, meter: Meter): Decision {
    return allow(`within quota ${name}: limit ${meter.spec.label}`, `quota.${name}`);
  }

  private refusal(name: RateQuota, meter: Meter, amount: number): Decision {
    const wait = meter.bucket.msUntil(amount);
    const when = Number.isFinite(wait) ? `; retry in ${wait} ms` : '; this amount never fits';
    return deny(`quota ${name} exceeded: limit ${meter.spec.label}${when}`, `quota.${name}`);
  }
}
