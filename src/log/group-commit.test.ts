import { describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.js';

/** A commit function whose calls complete only when the test says so. */
function gatedCommit() {
  const calls: string[][] = [];
  const gates: Array<() => void> = [];
  let fail = false;
  const commit = (items: string[]) => {
    calls.push(items);
    return new Promise<string[]>((resolve, reject) => {
      gates.push(() => (fail ? reject(new Error('disk full')) : resolve(items.map((item) => `${item}!`))));
    });
  };
  const open = async () => {
    while (gates.length === 0) await new Promise((resolve) => setImmediate(resolve));
    gates.shift()?.();
  };
  return { calls, commit, open, failNext: () => (fail = true), succeed: () => (fail = false) };
}

describe('GroupCommit', () => {
  it('batches everything submitted while the previous commit runs', async () => {
    const gate = gatedCommit();
    const group = new GroupCommit(gate.commit);
    const first = group.submit('a');
    const rest = [group.submit('b'), group.submit('c'), group.submit('d')];
    await gate.open();
    expect(await first).toBe('a!');
    await gate.open();
    expect(await Promise.all(rest)).toEqual(['b!', 'c!', 'd!']);
    expect(gate.calls).toEqual([['a'], ['b', 'c', 'd']]);
    expect(group.commitCount).toBe(2);
  });

  it('rejects every caller of a failed commit and carries on with the next batch', async () => {
    const gate = gatedCommit();
    const group = new GroupCommit(gate.commit);
    gate.failNext();
    const doomed = group.submit('a');
    const next = group.submit('b');
    await gate.open();
    await expect(doomed).rejects.toThrow('disk full');
    gate.succeed();
    await gate.open();
    expect(await next).toBe('b!');
  });

  it('caps a batch at maxBatch items', async () => {
    const gate = gatedCommit();
    const group = new GroupCommit(gate.commit, 2);
    const all = ['a', 'b', 'c', 'd', 'e'].map((item) => group.submit(item));
    for (let i = 0; i < 3; i += 1) await gate.open();
    await Promise.all(all);
    expect(gate.calls).toEqual([['a'], ['b', 'c'], ['d', 'e']]);
  });

  it('idle() waits for the queue to drain', async () => {
    const gate = gatedCommit();
    const group = new GroupCommit(gate.commit);
    const done: string[] = [];
    void group.submit('a').then((r) => done.push(r));
    const idle = group.idle();
    await gate.open();
    await idle;
    expect(done).toEqual(['a!']);
  });

  it('pipelined: stages the next batch while the previous one waits for its results, and answers each batch from its own', async () => {
    const staged: string[][] = [];
    const finish: Array<(results: string[]) => void> = [];
    const group = new GroupCommit<string, string>({
      stage: async (items) => {
        staged.push(items);
        return { done: new Promise<string[]>((resolve) => finish.push(resolve)) };
      },
    });
    const answered: string[] = [];
    const first = group.submit('a').then((r) => answered.push(r));
    await new Promise((resolve) => setImmediate(resolve));
    const second = group.submit('b').then((r) => answered.push(r));
    await new Promise((resolve) => setImmediate(resolve));
    // 'b' was staged while 'a' still waited: nobody is answered yet.
    expect(staged).toEqual([['a'], ['b']]);
    expect(answered).toEqual([]);
    const idle = group.idle();
    finish[0]?.(['a!']);
    await first;
    expect(answered).toEqual(['a!']);
    finish[1]?.(['b!']);
    await Promise.all([second, idle]);
    expect(answered).toEqual(['a!', 'b!']);
  });

  it('pipelined: a batch whose results fail rejects its own callers only', async () => {
    const finish: Array<{ resolve: (r: string[]) => void; reject: (e: Error) => void }> = [];
    const group = new GroupCommit<string, string>({
      stage: async () => ({
        done: new Promise<string[]>((resolve, reject) => finish.push({ resolve, reject })),
      }),
    });
    const doomed = group.submit('a');
    await new Promise((resolve) => setImmediate(resolve));
    const next = group.submit('b');
    await new Promise((resolve) => setImmediate(resolve));
    finish[0]?.reject(new Error('fsync failed'));
    finish[1]?.resolve(['b!']);
    await expect(doomed).rejects.toThrow('fsync failed');
    expect(await next).toBe('b!');
  });
});
