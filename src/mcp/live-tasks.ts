import type { ActiveCall } from './call-recorder.js';

/** How many task-augmented calls one session keeps for their final result's receipt. */
export const MAX_LIVE_TASKS = 1024;
/** The longest a task is kept without its result fetched, whatever ttl its server gave it. */
export const MAX_TASK_KEEP_MS = 24 * 60 * 60 * 1000;

/** Why a server's task could not be kept: the call is answered with an error and a receipt saying so. */
export type TaskRefusal = { readonly code: 'task-id-reused' | 'too-many-tasks'; readonly reason: string };

interface LiveTask {
  readonly call: ActiveCall;
  readonly until: number;
}

/**
 * The task-augmented calls of a session whose final result (tasks/result) is still to come, by
 * task id: bounded in number and in time (the server's ttl, capped), removed when the result is
 * fetched. A task id the server hands out while another call still holds it would route that
 * call's result, and its receipt, to the wrong call: refused, never overwritten.
 */
export class LiveTasks {
  readonly #tasks = new Map<string, LiveTask>();

  constructor(
    private readonly cap = MAX_LIVE_TASKS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Keeps `call` under `taskId` (ttl in ms, the server's), or says why not. */
  admit(taskId: string, call: ActiveCall, ttl: unknown): TaskRefusal | undefined {
    this.#sweep();
    if (this.#tasks.has(taskId)) {
      return {
        code: 'task-id-reused',
        reason: `the server answered with task id ${JSON.stringify(taskId.slice(0, 80))}, which another call's task still holds (a protocol error: task ids are unique while a task lives); its result was not taken`,
      };
    }
    if (this.#tasks.size >= this.cap) {
      return {
        code: 'too-many-tasks',
        reason: `the session already has ${this.cap} tasks whose result is not fetched (the bridge's bound): fetch their results (tasks/result) or let them expire, then retry; this task's result was not taken`,
      };
    }
    const keep =
      typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0
        ? Math.min(ttl, MAX_TASK_KEEP_MS)
        : MAX_TASK_KEEP_MS;
    this.#tasks.set(taskId, { call, until: this.now() + keep });
    return undefined;
  }

  get(taskId: string): ActiveCall | undefined {
    this.#sweep();
    return this.#tasks.get(taskId)?.call;
  }

  /** The task's result was fetched (or it can have none): forgotten. */
  end(taskId: string): void {
    this.#tasks.delete(taskId);
  }

  get size(): number {
    this.#sweep();
    return this.#tasks.size;
  }

  #sweep(): void {
    const now = this.now();
    for (const [id, task] of this.#tasks) if (task.until <= now) this.#tasks.delete(id);
  }
}
