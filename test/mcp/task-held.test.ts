import { describe, expect, it } from 'vitest';
import { eventually, type RawHarness, rpc, withInitialized } from './raw-harness.js';

/** The test task's ttl: its server's, which the bridge keeps it for. */
const TTL_MS = 2_000;

/**
 * A task's result reaches the client only with a receipt under the call that started it, and a
 * session reads and ends only its own tasks: tasks/result, tasks/get and tasks/cancel for a task
 * id the session does not hold (never handed out to it, fetched already, past its ttl) are
 * refused with a receipt of the refusal and never reach the server.
 */
describe('task ids the session does not hold', () => {
  const refused = async (raw: RawHarness, id: string | number, method: string, taskId: unknown) => {
    const before = raw.serverGot().filter((message) => message.method === method).length;
    const answer = await raw.request(rpc(id, method, { taskId }));
    expect(answer.result).toBeUndefined();
    const error = answer.error as { code: number; message: string; data?: Record<string, unknown> };
    expect(error.code).toBe(-32602);
    expect(error.message).toContain(`${method} for`);
    expect(error.data?.['oacp/receipt']).toBeDefined();
    const record = raw.receipts.records.at(-1);
    expect(record).toMatchObject({ tool: `client-request:${method}`, outcome: 'denied' });
    expect(record?.decision).toMatchObject({ effect: 'deny' });
    expect(raw.serverGot().filter((message) => message.method === method)).toHaveLength(before);
    return error.message;
  };

  it('attack: a guessed task id (another session’s, never handed out here) is neither read, ended nor its result passed', async () => {
    await withInitialized(async (raw) => {
      expect(await refused(raw, 'r', 'tasks/result', 'task-1')).toContain('holds no task-augmented call');
      await refused(raw, 'g', 'tasks/get', 'task-1');
      await refused(raw, 'c', 'tasks/cancel', 'task-1');
      expect(await refused(raw, 'n', 'tasks/result', 7)).toContain('params.taskId must be a string');
    });
  });

  it('attack: a task past its ttl is forgotten, and its result is then refused with a receipt, not forwarded unrecorded', async () => {
    await withInitialized(
      async (raw) => {
        const created = await raw.request(
          rpc(1, 'tools/call', { name: 'task', arguments: {}, task: { ttl: TTL_MS } }),
        );
        expect(created.result).toMatchObject({ task: { taskId: 'task-1' } });
        // While it lives, the session's own task can be read (a ttl a loaded host's round trip stays within).
        const got = await raw.request(rpc(2, 'tasks/get', { taskId: 'task-1' }));
        expect(got.result).toMatchObject({ taskId: 'task-1', status: 'working' });
        // The bridge reads its clock when asked: once this much has passed here, it has there too.
        await new Promise((resolve) => setTimeout(resolve, TTL_MS + 100));
        await refused(raw, 'late', 'tasks/result', 'task-1');
      },
      { env: { RAW_TASK_TTL: String(TTL_MS) } },
    );
  });

  it('a result already fetched (with its receipt) is not passed again without one', async () => {
    await withInitialized(async (raw) => {
      await raw.request(rpc(1, 'tools/call', { name: 'task', arguments: {}, task: { ttl: 60000 } }));
      const result = await raw.request(rpc(2, 'tasks/result', { taskId: 'task-1' }));
      expect((result.result as { _meta: Record<string, unknown> })._meta['oacp/receipt']).toBeDefined();
      await refused(raw, 3, 'tasks/result', 'task-1');
      await refused(raw, 4, 'tasks/cancel', 'task-1');
    });
  });

  it('attack: tasks/list answers only this session’s tasks, never another session’s a shared server lists', async () => {
    await withInitialized(async (raw) => {
      const none = await raw.request(rpc(1, 'tasks/list', {}));
      expect(none.result).toMatchObject({ tasks: [] });
      await raw.request(rpc(2, 'tools/call', { name: 'task', arguments: {}, task: { ttl: 60000 } }));
      const listed = await raw.request(rpc(3, 'tasks/list', {}));
      const tasks = (listed.result as { tasks: Array<{ taskId: string }> }).tasks;
      expect(tasks.map((task) => task.taskId)).toEqual(['task-1']);
    });
  });

  it('attack: a result naming another task (related-task) ends the task asked for, not the other one, which keeps its result and receipt', async () => {
    await withInitialized(
      async (raw) => {
        const start = (id: number) =>
          raw.request(rpc(id, 'tools/call', { name: 'task', arguments: { n: id }, task: { ttl: 60000 } }));
        expect((await start(1)).result).toMatchObject({ task: { taskId: 'task-1' } });
        expect((await start(2)).result).toMatchObject({ task: { taskId: 'task-2' } });
        // The server answers task-1's result as if it were task-2's.
        const first = await raw.request(rpc(3, 'tasks/result', { taskId: 'task-1' }));
        expect((first.result as { _meta: Record<string, unknown> })._meta['oacp/receipt']).toBeDefined();
        await refused(raw, 4, 'tasks/result', 'task-1');
        const second = await raw.request(rpc(5, 'tasks/result', { taskId: 'task-2' }));
        expect((second.result as { _meta: Record<string, unknown> })._meta['oacp/receipt']).toBeDefined();
        const records = raw.receipts.records.filter((record) => record.tool === 'task');
        expect(records.map((record) => record.outcome)).toEqual(['result', 'result', 'result', 'result']);
        expect(records[3]?.callId).toBe(records[1]?.callId);
      },
      { env: { RAW_TASK_IDS: 'unique', RAW_RELATED_TASK: 'task-2' } },
    );
  });
});

describe('task status from the server', () => {
  it('attack: notifications/tasks/status for a task this session does not hold never reaches the client; its own does', async () => {
    await withInitialized(
      async (raw) => {
        const created = await raw.request(
          rpc(1, 'tools/call', { name: 'task', arguments: {}, task: { ttl: 60000 } }),
        );
        expect(created.result).toMatchObject({ task: { taskId: 'task-1' } });
        const statuses = () =>
          raw.received
            .filter((message) => message.method === 'notifications/tasks/status')
            .map((message) => (message.params as { taskId: string }).taskId);
        await eventually(() => statuses().length > 0, 'the own task status');
        // The other session's status came first from the server: dropped, and said.
        expect(statuses()).toEqual(['task-1']);
        const dropped = raw.events.filter(
          (event) =>
            event.type === 'invalid-message' &&
            event.from === 'server' &&
            event.reason.includes('"other-session-task"'),
        );
        expect(dropped).toHaveLength(1);
      },
      { env: { RAW_TASK_STATUS: '1' } },
    );
  });
});
