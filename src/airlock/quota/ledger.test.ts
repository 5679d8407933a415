import { describe, expect, it } from 'vitest';
import { QuotasSchema } from '../../capability/manifest.js';
import { manualClock } from './clock.js';
import { QuotaExceededError } from './errors.js';
import { QuotaLedger } from './ledger.js';

const MB = 1024 * 1024;

function ledger(quotas: Record<string, number> = {}) {
  const clock = manualClock();
  return { clock, ledger: new QuotaLedger(QuotasSchema.parse(quotas), clock.now) };
}

function takeAll(l: QuotaLedger, name: 'network_requests_per_min' | 'api_calls_per_hour', count: number) {
  for (let i = 0; i < count; i++) expect(l.consume(name).effect).toBe('allow');
}

describe('QuotaLedger network_requests_per_min', () => {
  it('allows the limit plus burst, then refuses naming the quota and limit', () => {
    const { ledger: l } = ledger({ network_requests_per_min: 100, burst: 10 });
    takeAll(l, 'network_requests_per_min', 110);
    const refusal = l.consume('network_requests_per_min');
    expect(refusal).toEqual({
      effect: 'deny',
      reason: 'quota network_requests_per_min exceeded: limit 100/min; retry in 600 ms',
      policyId: 'quota.network_requests_per_min',
    });
  });

  it('earns tokens back at the steady rate (the burst allowance decays and refills)', () => {
    const { clock, ledger: l } = ledger({ network_requests_per_min: 100, burst: 0 });
    takeAll(l, 'network_requests_per_min', 100);
    expect(l.consume('network_requests_per_min').effect).toBe('deny');
    clock.advance(599);
    expect(l.consume('network_requests_per_min').effect).toBe('deny');
    clock.advance(1);
    expect(l.consume('network_requests_per_min').effect).toBe('allow');
    expect(l.consume('network_requests_per_min').effect).toBe('deny');
    clock.advance(60_000);
    takeAll(l, 'network_requests_per_min', 100);
    expect(l.consume('network_requests_per_min').effect).toBe('deny');
  });

  it('never refills beyond limit plus burst, however long it was idle', () => {
    const { clock, ledger: l } = ledger({ network_requests_per_min: 5, burst: 2 });
    clock.advance(3_600_000);
    takeAll(l, 'network_requests_per_min', 7);
    expect(l.consume('network_requests_per_min').effect).toBe('deny');
  });

  it('pre-flight check consumes nothing', () => {
    const { ledger: l } = ledger({ network_requests_per_min: 1, burst: 0 });
    expect(l.check('network_requests_per_min').effect).toBe('allow');
    expect(l.check('network_requests_per_min').effect).toBe('allow');
    expect(l.consume('network_requests_per_min').effect).toBe('allow');
    expect(l.check('network_requests_per_min').reason).toContain('quota network_requests_per_min exceeded');
  });

  it('a limit of 0 refuses everything, burst or not', () => {
    const { ledger: l } = ledger({ network_requests_per_min: 0, burst: 10 });
    expect(l.consume('network_requests_per_min').reason).toBe(
      'quota network_requests_per_min exceeded: limit 0/min; this amount never fits',
    );
  });
});

describe('QuotaLedger api_calls_per_hour', () => {
  it('refuses call 1011 within the hour and throws a typed error on request', () => {
    const { ledger: l } = ledger();
    takeAll(l, 'api_calls_per_hour', 1010);
    expect(l.consume('api_calls_per_hour').reason).toMatch(
      /^quota api_calls_per_hour exceeded: limit 1000\/hour/,
    );
    let thrown: unknown;
    try {
      l.consumeOrThrow('api_calls_per_hour');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(QuotaExceededError);
    expect(thrown).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'api_calls_per_hour', limit: 1000 });
  });
});

describe('QuotaLedger disk_io_mb_per_s', () => {
  it('meters bytes: one second of throughput, then refusal until time passes', () => {
    const { clock, ledger: l } = ledger({ disk_io_mb_per_s: 10 });
    expect(l.consume('disk_io_mb_per_s', 8 * MB).effect).toBe('allow');
    expect(l.consume('disk_io_mb_per_s', 3 * MB).reason).toBe(
      'quota disk_io_mb_per_s exceeded: limit 10 MB/s; retry in 100 ms',
    );
    clock.advance(100);
    expect(l.consume('disk_io_mb_per_s', 3 * MB).effect).toBe('allow');
  });

  it('refuses a single write larger than the bucket as never fitting', () => {
    const { ledger: l } = ledger({ disk_io_mb_per_s: 1 });
    expect(l.consume('disk_io_mb_per_s', 2 * MB).reason).toContain('never fits');
  });
});

describe('QuotaLedger.usage', () => {
  it('reports limits, use and refusals for receipts', () => {
    const { ledger: l } = ledger({ network_requests_per_min: 2, burst: 0 });
    l.consume('network_requests_per_min');
    l.consume('network_requests_per_min');
    l.consume('network_requests_per_min');
    expect(l.usage().network_requests_per_min).toEqual({ limit: '2/min', used: 2, available: 0, refused: 1 });
    expect(l.usage().api_calls_per_hour.used).toBe(0);
  });
});
