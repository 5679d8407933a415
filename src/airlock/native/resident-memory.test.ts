import { describe, expect, it } from 'vitest';
import type { ProcessFigures } from './proc-stats.js';
import { ResidentMemory } from './resident-memory.js';

const MIB = 1024 * 1024;

/** A sample of a tree: each pid's RSS in MiB. */
function figures(rss: Record<number, number>): ProcessFigures {
  const rssByPid = new Map(Object.entries(rss).map(([pid, mib]) => [Number(pid), mib * MIB]));
  const total = [...rssByPid.values()].reduce((sum, bytes) => sum + bytes, 0);
  return {
    cpuMs: 0,
    rssBytes: total,
    peakRssBytes: total,
    rssByPid,
    processes: rssByPid.size,
    tasks: rssByPid.size,
    runnable: () => false,
  };
}

/** Proportional sizes in MiB by pid, counting each read. */
function pss(table: Record<number, number>) {
  const reads: number[] = [];
  const read = (pid: number): number | undefined => {
    reads.push(pid);
    return table[pid] === undefined ? undefined : table[pid] * MIB;
  };
  return { reads, read, table };
}

describe('ResidentMemory: the polled memory limit of a process tree', () => {
  it('under the limit by summed RSS: never walks the page tables', () => {
    const source = pss({ 1: 10 });
    expect(new ResidentMemory(source.read).over(figures({ 1: 100, 2: 100 }), 256 * MIB, 0)).toBe(false);
    expect(source.reads).toEqual([]);
  });

  it('fault: five sharers of 96 MiB (480 MiB summed RSS) are under 256 MiB by their proportional size', () => {
    const source = pss({ 1: 20, 2: 20, 3: 20, 4: 20, 5: 20 });
    const memory = new ResidentMemory(source.read);
    const tree = { 1: 96, 2: 96, 3: 96, 4: 96, 5: 96 };
    expect(memory.over(figures(tree), 256 * MIB, 0)).toBe(false);
    // The next samples, no process grown: the last Pss still bounds the tree, no second walk.
    expect(memory.over(figures(tree), 256 * MIB, 50)).toBe(false);
    expect(source.reads).toHaveLength(5);
  });

  it('attack: growth after a Pss read is counted at once, and a Pss that grew is then read', () => {
    const source = pss({ 1: 20, 2: 20, 3: 20, 4: 20, 5: 20 });
    const memory = new ResidentMemory(source.read);
    expect(memory.over(figures({ 1: 96, 2: 96, 3: 96, 4: 96, 5: 96 }), 256 * MIB, 0)).toBe(false);
    // One process writes 200 MiB of its own: the bound (100 + 200) passes 256, so the tree is read again.
    source.table[1] = 220;
    expect(memory.over(figures({ 1: 296, 2: 96, 3: 96, 4: 96, 5: 96 }), 256 * MIB, 50)).toBe(true);
    expect(source.reads).toHaveLength(10);
  });

  it('attack: a new process counts whole until read; an unreadable Pss counts its RSS', () => {
    const source = pss({ 1: 50 });
    const memory = new ResidentMemory(source.read);
    expect(memory.over(figures({ 1: 300 }), 256 * MIB, 0)).toBe(false);
    // pid 2 is new (bound 50 + 250) and its Pss cannot be read: 50 + 250 is over.
    expect(memory.over(figures({ 1: 300, 2: 250 }), 256 * MIB, 50)).toBe(true);
  });

  it('reads the Pss again after a second, even with no growth (a sharer outside the tree may have left)', () => {
    const source = pss({ 1: 50 });
    const memory = new ResidentMemory(source.read);
    expect(memory.over(figures({ 1: 300 }), 256 * MIB, 0)).toBe(false);
    source.table[1] = 280;
    expect(memory.over(figures({ 1: 300 }), 256 * MIB, 999)).toBe(false);
    expect(memory.over(figures({ 1: 300 }), 256 * MIB, 1000)).toBe(true);
  });
});
