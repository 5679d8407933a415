import { describe, expect, it } from 'vitest';
import { MAX_LIVE_TASKS } from '../../src/mcp/live-tasks.js';
import { eventually, rpc, withInitialized } from './raw-harness.js';

/**
 * MCP tasks: the bridge keeps each task-augmented call by its task id, so the task's final
 * result (tasks/result) gets a receipt under the call that started it. A server that hands
 * out a task id another call's task still holds must not take that call's place.
 */
describe('task ids from the server', () => {
  it('attack: a server reusing a live task id gets the second call refused with a receipt; the first call keeps its task and its result’s receipt', async () => {
    await withInitialized(async (raw) => {
      const first = await raw.request(
        rpc(1, 'tools/call', { name: 'task', arguments: { which: 'first' }, task: { ttl: 60000 } }),
      );
      expect(first.result).toMatchObject({ task: { taskId: 'task-1' } });
      // The raw server answers every task call with the same id, task-1, still live.
      const second = await raw.request(
        rpc(2, 'tools/call', { name: 'task', arguments: { which: 'second' }, task: { ttl: 60000 } }),
      );
      const error = second.error as { message: string; data?: Record<string, unknown> };
      expect(error.message).toContain('task id "task-1", which another call');
      expect(error.data?.['oacp/receipt']).toBeDefined();
      const records = raw.receipts.records.filter((record) => record.tool === 'task');
      // The first call's task answer has its receipt; the second's records the refusal.
      expect(records).toHaveLength(2);
      expect(records[1]).toMatchObject({ outcome: 'error', forwarded: true });
      expect(records[1]?.error?.message).toContain('another call');
      expect(
        raw.events.some((event) => event.type === 'invalid-message' && event.reason.includes('task-1')),
      ).toBe(true);
      // Not cancelled on the server: the id names the first call's task, which a cancel would end.
      expect(records[1]?.error?.message).toContain('no tasks/cancel was sent');
      expect(raw.serverGot().filter((message) => message.method === 'tasks/cancel')).toEqual([]);

      const result = await raw.request(rpc(3, 'tasks/result', { taskId: 'task-1' }));
      expect(JSON.stringify(result.result)).toContain('task done');
      expect((result.result as { _meta: Record<string, unknown> })._meta['oacp/receipt']).toBeDefined();
      const all = raw.receipts.records.filter((record) => record.tool === 'task');
      expect(all).toHaveLength(3);
      // The result's receipt is the first call's (same call id and arguments), not the refused one's.
      expect(all[2]).toMatchObject({ outcome: 'result', callId: all[0]?.callId });
      expect(all[2]?.argumentsDigest).toBe(all[0]?.argumentsDigest);
      expect(all[2]?.argumentsDigest).not.toBe(all[1]?.argumentsDigest);

      // The result was fetched: the task is over, and task-1 may be handed out again.
      const third = await raw.request(
        rpc(4, 'tools/call', { name: 'task', arguments: { which: 'third' }, task: { ttl: 60000 } }),
      );
      expect(third.result).toMatchObject({ task: { taskId: 'task-1' } });
    });
  });

  it('a task past the bound of live tasks is refused and cancelled on the server (tasks/cancel), the receipt saying so', async () => {
    await withInitialized(
      async (raw) => {
        const start = (id: number) =>
          raw.request(rpc(id, 'tools/call', { name: 'task', arguments: { n: id }, task: { ttl: 60000 } }));
        for (let id = 1; id <= MAX_LIVE_TASKS; id += 128) {
          const batch = Array.from({ length: Math.min(128, MAX_LIVE_TASKS + 1 - id) }, (_, i) =>
            start(id + i),
          );
          for (const answer of await Promise.all(batch)) expect(answer.result).toBeDefined();
        }
        const refused = await start(MAX_LIVE_TASKS + 1);
        const error = refused.error as { message: string; data?: Record<string, unknown> };
        expect(error.message).toContain(`already has ${MAX_LIVE_TASKS} tasks`);
        expect(error.message).toContain('the bridge cancelled it on the server (tasks/cancel)');
        expect(error.data?.['oacp/receipt']).toBeDefined();
        const taskId = `task-${MAX_LIVE_TASKS + 1}`;
        await eventually(
          () => raw.serverGot().some((message) => message.method === 'tasks/cancel'),
          'the tasks/cancel',
        );
        const cancels = raw.serverGot().filter((message) => message.method === 'tasks/cancel');
        expect(cancels.map((message) => message.params)).toEqual([{ taskId }]);
        const record = raw.receipts.records.at(-1);
        expect(record).toMatchObject({ outcome: 'error', forwarded: true });
        expect(record?.error?.message).toContain('tasks/cancel');
        // The kept tasks are untouched: the first one's result still comes with its receipt.
        const result = await raw.request(rpc('r', 'tasks/result', { taskId: 'task-1' }));
        expect((result.result as { _meta: Record<string, unknown> })._meta['oacp/receipt']).toBeDefined();
      },
      { env: { RAW_TASK_IDS: 'unique' } },
    );
  }, 120_000);
});
