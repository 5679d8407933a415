import { describe, expect, it } from 'vitest';
import { eventually, rpc, withInitialized } from './raw-harness.js';

/**
 * MCP: a progress notification names the token of a request in flight. The bridge passes
 * client tokens through unchanged, so progress a server sends for a token it was never
 * given, or for a call that is over, would reach the client as the progress of whichever
 * call holds that token next (or, over HTTP, ride on the newest call's stream).
 */
describe('progress from the server', () => {
  it('attack: progress for a token never issued, or for a call already answered, never reaches the client; its own call’s progress does', async () => {
    await withInitialized(async (raw) => {
      const first = await raw.request(
        rpc(1, 'tools/call', {
          name: 'progress',
          arguments: { tokens: ['mine', 'never-issued', 7] },
          _meta: { progressToken: 'mine' },
        }),
      );
      expect(JSON.stringify(first.result)).toContain('progressed');
      // The first call is over: progress under its token, sent during another call, is stale.
      const second = await raw.request(
        rpc(2, 'tools/call', {
          name: 'progress',
          arguments: { tokens: ['mine', 'theirs'] },
          _meta: { progressToken: 'theirs' },
        }),
      );
      expect(JSON.stringify(second.result)).toContain('progressed');
      const progress = raw.received
        .filter((message) => message.method === 'notifications/progress')
        .map((message) => (message.params as { message: string }).message);
      expect(progress).toEqual(['progress-for-mine', 'progress-for-theirs']);
      // Each answer came after its own progress.
      const order = raw.received.map((message) =>
        message.method === undefined
          ? `answer-${String(message.id)}`
          : String((message.params as { message?: string }).message),
      );
      expect(order.filter((entry) => entry !== 'undefined' && entry !== 'answer-init')).toEqual([
        'progress-for-mine',
        'answer-1',
        'progress-for-theirs',
        'answer-2',
      ]);
      const dropped = raw.events.filter(
        (event) =>
          event.type === 'invalid-message' && event.from === 'server' && event.reason.includes('progress'),
      );
      expect(dropped).toHaveLength(3);
      expect(raw.receipts.records.filter((record) => record.tool === 'progress')).toHaveLength(2);
    });
  });

  it('a task-augmented call keeps its progress token until the task ends (MCP tasks): progress after the task answer passes, after its result it is dropped', async () => {
    await withInitialized(async (raw) => {
      const created = await raw.request(
        rpc(1, 'tools/call', {
          name: 'task',
          arguments: {},
          task: { ttl: 60000 },
          _meta: { progressToken: 'tk' },
        }),
      );
      expect(created.result).toMatchObject({ task: { taskId: 'task-1' } });
      const progressSeen = (text: string) =>
        raw.received.some(
          (message) =>
            message.method === 'notifications/progress' &&
            (message.params as { message?: string }).message === text,
        );
      await eventually(() => progressSeen('task-progress'), 'the running task’s progress');
      const result = await raw.request(rpc(2, 'tasks/result', { taskId: 'task-1' }));
      expect(JSON.stringify(result.result)).toContain('task done');
      await eventually(
        () => raw.events.some((event) => event.type === 'invalid-message' && event.reason.includes('"tk"')),
        'the stale progress to be dropped',
      );
      expect(progressSeen('after-task')).toBe(false);
    });
  });
});
