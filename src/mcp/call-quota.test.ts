import { describe, expect, it } from 'vitest';
import { manualClock } from '../airlock/quota/clock.js';
import { CallRateQuota } from './call-quota.js';

describe('CallRateQuota', () => {
  it('serves a burst of N, refuses the next, and refills at N per minute', () => {
    const clock = manualClock();
    const quota = new CallRateQuota(3, clock.now);
    expect([1, 2, 3].map(() => quota.take('a').effect)).toEqual(['allow', 'allow', 'allow']);
    const refused = quota.take('a');
    expect(refused.effect).toBe('deny');
    expect(refused.reason).toBe('call quota exceeded: 3 calls per minute; retry in about 20 s');
    clock.advance(20_000);
    expect(quota.take('a').effect).toBe('allow');
    expect(quota.take('a').effect).toBe('deny');
  });

  it('keeps one bucket per agent', () => {
    const quota = new CallRateQuota(1, manualClock().now);
    expect(quota.take('a').effect).toBe('allow');
    expect(quota.take('a').effect).toBe('deny');
    expect(quota.take('b').effect).toBe('allow');
  });
});
