import { describe, expect, it } from 'vitest';
import { policyDecision } from './decision.js';
import { DecisionCache, MAX_DECISION_KEY_CHARS } from './decision-cache.js';

describe('DecisionCache', () => {
  const allow = policyDecision('allow', 'ok', [], 'd');

  it('remembers a decision per key, forgetting the least recently used past its capacity', () => {
    const cache = new DecisionCache(2);
    let evaluations = 0;
    const evaluate = () => {
      evaluations += 1;
      return allow;
    };
    cache.decide('a', evaluate);
    cache.decide('b', evaluate);
    cache.decide('a', evaluate);
    cache.decide('c', evaluate);
    expect(evaluations).toBe(3);
    cache.decide('a', evaluate);
    expect(evaluations).toBe(3);
    cache.decide('b', evaluate);
    expect(evaluations).toBe(4);
    expect(cache.held).toBe(2);
  });

  it('never holds a key over the bound, nor any with capacity 0', () => {
    const cache = new DecisionCache(10);
    cache.decide('k'.repeat(MAX_DECISION_KEY_CHARS + 1), () => allow);
    cache.decide(undefined, () => allow);
    expect(cache.held).toBe(0);
    const off = new DecisionCache(0);
    off.decide('a', () => allow);
    expect(off.held).toBe(0);
  });
});
