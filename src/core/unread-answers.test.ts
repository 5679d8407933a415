import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { UnreadAnswers } from './unread-answers.js';

/** An answer whose client reads nothing: every byte written stays in `writableLength`. */
class HeldAnswer extends EventEmitter {
  writableLength = 0;
  destroyed = false;
  write(chunk: string): boolean {
    this.writableLength += chunk.length;
    return false;
  }
  end(chunk?: string): void {
    if (chunk !== undefined) this.writableLength += chunk.length;
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

describe('UnreadAnswers: the bytes answers hold together for clients that do not read', () => {
  it('the last answer held is never cut, however large: one answer is bounded where it is made', () => {
    const cuts: number[] = [];
    const bound = new UnreadAnswers(1000, (bytes) => cuts.push(bytes));
    const alone = bound.watch(new HeldAnswer());
    alone.end('x'.repeat(5000));
    expect(alone.destroyed).toBe(false);
    expect(bound.held).toBe(5000);
    expect(cuts).toEqual([]);
  });

  it('attack: answers held together past the bound: the one holding the most is cut until the rest fit or one is left', () => {
    const cuts: number[] = [];
    const bound = new UnreadAnswers(1000, (bytes) => cuts.push(bytes));
    const small = bound.watch(new HeldAnswer());
    small.end('x'.repeat(600));
    const large = bound.watch(new HeldAnswer());
    large.end('x'.repeat(900));
    expect(large.destroyed).toBe(true);
    expect(small.destroyed).toBe(false);
    expect(cuts).toEqual([900]);
    const third = bound.watch(new HeldAnswer());
    third.end('x'.repeat(3000));
    // 600 + 3000 over 1000: the largest goes; the small one, now alone, stays.
    expect(third.destroyed).toBe(true);
    expect(small.destroyed).toBe(false);
    expect(bound.held).toBe(600);
  });
});
