import { ListTasksRequest, Task, TaskState } from '@a2a-js/sdk';
import { ServerCallContext } from '@a2a-js/sdk/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreTaskStore } from '../../src/a2a/task-store.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/types.js';
import { type PostgresServer, postgresUnavailable, startPostgres } from './postgres-server.js';

const unavailable = postgresUnavailable();
const AGENT = 'did:key:z6MkAgentOne';
const caller = (userName: string, tenant?: string) =>
  new ServerCallContext({
    user: { isAuthenticated: true, userName },
    ...(tenant === undefined ? {} : { tenant }),
  });

function task(id: string, state: TaskState, at: string): Task {
  return Task.fromJSON({
    id,
    contextId: 'ctx-1',
    status: { state: TaskState[state], timestamp: at },
    artifacts: [{ artifactId: 'a1', parts: [{ text: `result of ${id}` }] }],
    history: [],
  });
}

/**
 * A2A tasks in the shared PostgreSQL store: a task saved by one node's
 * endpoint is loaded and listed by another node's, scoped as the SDK scopes
 * them (tenant, owner) and by agent, so nobody reads another's tasks.
 */
describe.skipIf(unavailable !== undefined)('A2A tasks in PostgreSQL, shared by two nodes', () => {
  let pg: PostgresServer | undefined;
  let stores: Store[] = [];

  beforeAll(async () => {
    const started = await startPostgres();
    if ('skipped' in started) throw new Error(`PostgreSQL did not start: ${started.skipped}`);
    pg = started;
    const url = await pg.createDatabase();
    stores = [await openStore(url), await openStore(url)];
  }, 120_000);

  afterAll(async () => {
    for (const store of stores) await store.close();
    await pg?.stop();
  });

  it('reads on node B what node A saved, with its state and artifacts, and lists it the SDK way', async () => {
    const [a, b] = stores as [Store, Store];
    const onA = new StoreTaskStore(a.a2aTasks, { agent: AGENT, node: 'gw-a' });
    const onB = new StoreTaskStore(b.a2aTasks, { agent: AGENT, node: 'gw-b' });
    await onA.save(task('t1', TaskState.TASK_STATE_WORKING, '2026-12-05T04:00:00Z'), caller('alice'));
    await onA.save(task('t2', TaskState.TASK_STATE_COMPLETED, '2026-12-05T04:01:00Z'), caller('alice'));
    // Finished on A after B first saw it working: B reads the latest.
    expect((await onB.load('t1', caller('alice')))?.status?.state).toBe(TaskState.TASK_STATE_WORKING);
    await onA.save(task('t1', TaskState.TASK_STATE_CANCELED, '2026-12-05T04:02:00Z'), caller('alice'));
    const loaded = await onB.load('t1', caller('alice'));
    expect(loaded?.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    expect(Task.toJSON(loaded as Task)).toMatchObject({ artifacts: [{ parts: [{ text: 'result of t1' }] }] });
    const listed = await onB.list(ListTasksRequest.fromJSON({}), caller('alice'));
    expect(listed.tasks.map((t) => t.id)).toEqual(['t1', 't2']);
    expect((await a.a2aTasks.load({ tenant: '', owner: 'alice', agent: AGENT }, 't1'))?.node).toBe('gw-a');
  });

  it("never shows a task to another owner, another tenant or another agent's endpoint", async () => {
    const [a, b] = stores as [Store, Store];
    const onA = new StoreTaskStore(a.a2aTasks, { agent: AGENT, node: 'gw-a' });
    await onA.save(task('secret', TaskState.TASK_STATE_COMPLETED, '2026-12-05T04:03:00Z'), caller('alice'));
    const onB = new StoreTaskStore(b.a2aTasks, { agent: AGENT, node: 'gw-b' });
    expect(await onB.load('secret', caller('mallory'))).toBeUndefined();
    expect(await onB.load('secret', caller('alice', 'other-tenant'))).toBeUndefined();
    const otherAgent = new StoreTaskStore(b.a2aTasks, { agent: 'did:key:z6MkAgentTwo', node: 'gw-b' });
    expect(await otherAgent.load('secret', caller('alice'))).toBeUndefined();
    expect((await onB.list(ListTasksRequest.fromJSON({}), caller('mallory'))).tasks).toEqual([]);
    // Another agent cannot overwrite it by saving the same id in the same scope.
    await otherAgent.save(
      task('secret', TaskState.TASK_STATE_FAILED, '2026-12-05T04:04:00Z'),
      caller('alice'),
    );
    expect((await onB.load('secret', caller('alice')))?.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });
});
