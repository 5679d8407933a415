import { describe, expect, it } from 'vitest';
import { rpc, withInitialized } from './raw-harness.js';

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
});
