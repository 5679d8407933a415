import { describe, expect, it } from 'vitest';
import { SliceBoard } from './slice-board.js';

describe('SliceBoard', () => {
  it('shows the gateway which guest is in a slice, with what budget and what its run has used', () => {
    const board = new SliceBoard();
    const seven = board.watch(7);
    expect(board.read().guest).toBe(0);
    seven.begin(1499.2, 300.4);
    const first = board.read();
    expect(first).toMatchObject({ guest: 7, budgetMs: 1500, usedMs: 300 });
    seven.end();
    seven.begin(20, 1780);
    expect(board.read().sequence).not.toBe(first.sequence);
    seven.end();
    expect(board.read().guest).toBe(0);
  });

  it('a stop request reaches only the guest it names, and a new run clears it', () => {
    const board = new SliceBoard();
    const one = board.watch(1);
    const two = board.watch(2);
    board.requestStop(2);
    expect(one.stopRequested()).toBe(false);
    expect(two.stopRequested()).toBe(true);
    one.clearStop();
    expect(two.stopRequested()).toBe(true);
    two.clearStop();
    expect(two.stopRequested()).toBe(false);
  });
});
