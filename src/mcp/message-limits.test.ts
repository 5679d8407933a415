import { describe, expect, it } from 'vitest';
import { DEFAULT_MESSAGE_LIMITS, exceedsLimits } from './message-limits.js';

describe('exceedsLimits', () => {
  it('refuses a number that is not finite wherever it sits (what reaches the bridge past the transports: an SDK transport, an in-process caller)', () => {
    for (const message of [Number.POSITIVE_INFINITY, { a: -Infinity }, { a: [1, { b: [Infinity] }] }]) {
      expect(exceedsLimits(message, DEFAULT_MESSAGE_LIMITS)).toContain('a number too large for a double');
    }
    expect(exceedsLimits({ a: [1e308, -0, 0.1] }, DEFAULT_MESSAGE_LIMITS)).toBeUndefined();
  });

  it('still names the depth limit first', () => {
    let deep: unknown = Infinity;
    for (let i = 0; i < 200; i++) deep = [deep];
    expect(exceedsLimits(deep, DEFAULT_MESSAGE_LIMITS)).toContain('deeper than 128 levels');
  });
});
