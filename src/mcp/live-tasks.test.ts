import { describe, expect, it } from 'vitest';
import type { ActiveCall } from './call-recorder.js';
import { LiveTasks, MAX_TASK_KEEP_MS } from './live-tasks.js';

const call = (id: string) => ({ callId: id }) as unknown as ActiveCall;

describe('LiveTasks', () => {
  it('refuses a live task id the server reuses, and keeps the first call', () => {
    const tasks = new LiveTasks();
    expect(tasks.admit('t', call('a'), 1000)).toBeUndefined();
    expect(tasks.admit('t', call('b'), 1000)?.code).toBe('task-id-reused');
    expect(tasks.get('t')).toEqual(call('a'));
    tasks.end('t');
    expect(tasks.admit('t', call('b'), 1000)).toBeUndefined();
  });

  it('is bounded: past the cap a task is refused with a reason naming the way out', () => {
    const tasks = new LiveTasks(3);
    for (const id of ['1', '2', '3']) expect(tasks.admit(id, call(id), 1000)).toBeUndefined();
    const refusal = tasks.admit('4', call('4'), 1000);
    expect(refusal?.code).toBe('too-many-tasks');
    expect(refusal?.reason).toContain('tasks/result');
    expect(tasks.size).toBe(3);
  });

  it('forgets a task whose result was never fetched once its ttl (capped) has passed', () => {
    let now = 0;
    const tasks = new LiveTasks(2, () => now);
    tasks.admit('short', call('s'), 1000);
    tasks.admit('none', call('n'), undefined);
    tasks.admit('huge', call('h'), Number.MAX_SAFE_INTEGER);
    expect(tasks.size).toBe(2);
    now = 1000;
    expect(tasks.get('short')).toBeUndefined();
    expect(tasks.admit('huge', call('h'), Number.MAX_SAFE_INTEGER)).toBeUndefined();
    now = MAX_TASK_KEEP_MS + 1000;
    expect(tasks.size).toBe(0);
  });
});
