import { type ListTasksRequest, type ListTasksResponse, Task } from '@a2a-js/sdk';
import {
  InMemoryTaskStore,
  resolveUserScope,
  type ServerCallContext,
  type TaskStore,
} from '@a2a-js/sdk/server';
import type { A2aTaskRepo, A2aTaskScope } from '../store/types.js';

export interface StoreTaskStoreOptions {
  /** The agent (did:key) whose endpoint this store serves. */
  readonly agent: string;
  /** This node's id, recorded with each save. */
  readonly node: string;
  readonly now?: () => Date;
}

/**
 * The A2A SDK's TaskStore on the gateway's store (PostgreSQL in a cluster),
 * so a task created through one node is read, listed and seen finished from
 * any other. Scoped exactly as the SDK's InMemoryTaskStore (tenant, then
 * owner, `resolveUserScope`), plus the agent: one agent's endpoint never sees
 * another's tasks. Listing loads the scope's tasks and lets the SDK's own
 * in-memory store filter and page them, so the semantics are the SDK's.
 */
export class StoreTaskStore implements TaskStore {
  private readonly now: () => Date;

  constructor(
    private readonly repo: A2aTaskRepo,
    private readonly options: StoreTaskStoreOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  async save(task: Task, context: ServerCallContext): Promise<void> {
    await this.repo.save({
      ...this.scope(context),
      taskId: task.id,
      node: this.options.node,
      task: JSON.stringify(Task.toJSON(task)),
      updatedAt: this.now().toISOString(),
    });
  }

  async load(taskId: string, context: ServerCallContext): Promise<Task | undefined> {
    const row = await this.repo.load(this.scope(context), taskId);
    return row === undefined ? undefined : Task.fromJSON(JSON.parse(row.task));
  }

  async list(params: ListTasksRequest, context: ServerCallContext): Promise<ListTasksResponse> {
    const view = new InMemoryTaskStore();
    for (const row of await this.repo.list(this.scope(context)))
      await view.save(Task.fromJSON(JSON.parse(row.task)), context);
    return view.list(params, context);
  }

  private scope(context: ServerCallContext): A2aTaskScope {
    return { tenant: context.tenant ?? '', owner: resolveUserScope(context), agent: this.options.agent };
  }
}
