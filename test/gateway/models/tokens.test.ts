import { describe, expect, it } from 'vitest';
import { AgentTokenCounts, estimateInputTokens, TokenCounts } from '../../../src/gateway/models/tokens.js';

const history = (turns: number) => ({
  model: 'gpt-x',
  messages: Array.from({ length: turns }, (_, i) => ({
    role: i % 2 === 0 ? 'user' : 'assistant',
    content: `turn ${i}: ${'the quick brown fox jumps over the lazy dog, '.repeat(20)}`,
  })),
});

describe('input token estimate with remembered counts', () => {
  it('counts exactly what the tokenizer counts, first time and from memory', () => {
    const counts = new TokenCounts(1024 * 1024);
    for (const turns of [1, 5, 6, 12]) {
      const body = history(turns);
      const fresh = estimateInputTokens(body);
      expect(estimateInputTokens(body, counts)).toBe(fresh);
      expect(estimateInputTokens(body, counts)).toBe(fresh);
    }
  });

  it('holds at most its bound of characters, and still counts right past it', () => {
    const counts = new TokenCounts(4_000);
    const body = history(40); // about 36,000 characters of long strings
    expect(estimateInputTokens(body, counts)).toBe(estimateInputTokens(body));
    expect(counts.heldChars).toBeGreaterThan(0);
    expect(counts.heldChars).toBeLessThanOrEqual(4_000);
    // A string longer than the whole bound is counted, never held.
    const huge = 'x y '.repeat(2_000);
    const empty = new TokenCounts(4_000);
    expect(empty.count(huge)).toBeGreaterThan(0);
    expect(empty.heldChars).toBe(0);
  });

  it('remembers short strings too, each held at its length plus a fixed cost, so many tiny ones stay within the bound', () => {
    const counts = new TokenCounts(4_000);
    expect(counts.count('hello')).toBe(estimateInputTokens({ messages: undefined, x: 'hello' }));
    // Remembered: 'hello' and what an entry costs beside it (64 characters).
    expect(counts.heldChars).toBe(5 + 64);
    expect(counts.count('hello')).toBe(counts.count('hello'));
    expect(counts.heldChars).toBe(5 + 64);
    // A thousand distinct one-word turns: without the fixed cost 4,000 characters would hold them all.
    const turns = Array.from({ length: 1_000 }, (_, i) => ({ role: 'user', content: `w${i}` }));
    const body = { model: 'gpt-x', messages: turns };
    expect(estimateInputTokens(body, counts)).toBe(estimateInputTokens(body));
    expect(counts.heldChars).toBeLessThanOrEqual(4_000);
    expect(counts.heldChars).toBeGreaterThan(4_000 - 64 - 8);
    expect(estimateInputTokens(body, counts)).toBe(estimateInputTokens(body));
  });

  it('keeps one memory per agent, so one agent never reads what another sent', () => {
    const agents = new AgentTokenCounts();
    const a = agents.for('did:key:a');
    expect(agents.for('did:key:b')).not.toBe(a);
    expect(agents.for('did:key:a')).toBe(a);
    // Only the most recent agents are kept: after many others, a's memory is gone.
    for (let i = 0; i < 100; i += 1) agents.for(`did:key:other-${i}`);
    expect(agents.for('did:key:a')).not.toBe(a);
  });
});
