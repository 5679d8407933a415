import type { Quotas } from '../../capability/manifest.js';
import type { BucketShape } from '../../store/types.js';

/** Quotas that are rates over time, metered with a token bucket. */
export type RateQuota = 'network_requests_per_min' | 'api_calls_per_hour' | 'disk_io_mb_per_s';

export interface RateSpec {
  /** Units per window, as written in the manifest. */
  readonly limit: number;
  readonly windowMs: number;
  /** How `limit` reads in messages: `100/min`, `10 MB/s`. */
  readonly label: string;
  /** Tokens the bucket holds: one window's worth plus the burst allowance. */
  readonly capacity: number;
  /** Manifest units to bucket tokens (disk I/O is metered in bytes). */
  readonly unitScale: number;
}

const MB = 1024 * 1024;

/**
 * Counted quotas (requests, API calls) get `burst` extra tokens on top of one
 * window's worth; the extra is spent first in a spike and earned back at the
 * steady rate. Disk I/O is metered in bytes with one second's worth of
 * capacity and no extra: a burst of disk writes is what the rate is for.
 * A limit of 0 means none at all, burst or not.
 */
export function rateSpec(quotas: Quotas, name: RateQuota): RateSpec {
  switch (name) {
    case 'network_requests_per_min': {
      const limit = quotas.network_requests_per_min;
      return {
        limit,
        windowMs: 60_000,
        label: `${limit}/min`,
        capacity: countCapacity(limit, quotas.burst),
        unitScale: 1,
      };
    }
    case 'api_calls_per_hour': {
      const limit = quotas.api_calls_per_hour;
      return {
        limit,
        windowMs: 3_600_000,
        label: `${limit}/hour`,
        capacity: countCapacity(limit, quotas.burst),
        unitScale: 1,
      };
    }
    case 'disk_io_mb_per_s': {
      const limit = quotas.disk_io_mb_per_s;
      return { limit, windowMs: 1000, label: `${limit} MB/s`, capacity: limit * MB, unitScale: MB };
    }
  }
}

function countCapacity(limit: number, burst: number): number {
  return limit === 0 ? 0 : limit + burst;
}

export const RATE_QUOTAS: readonly RateQuota[] = [
  'network_requests_per_min',
  'api_calls_per_hour',
  'disk_io_mb_per_s',
];

/** The rate as a token bucket the quota engine keeps: capacity, and `limit` (in bucket units) per window. */
export function bucketShape(spec: RateSpec): BucketShape {
  return { capacity: spec.capacity, refill: spec.limit * spec.unitScale, windowMs: spec.windowMs };
}
