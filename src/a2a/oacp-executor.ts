import { randomUUID } from 'node:crypto';
import { type Message, Role, type Task, TaskState } from '@a2a-js/sdk';
import {
  AgentEvent,
  type AgentExecutor,
  type ExecutionEventBus,
  type RequestContext,
} from '@a2a-js/sdk/server';
import { describeError } from '../core/errors.js';
import type { A2aAgent, A2aExecution, A2aExecutor, LoggedReceipt } from './agent.js';
import { OACP_A2A_EXTENSION } from './extension.js';
import { admissionOf } from './inbound-gate.js';
import { textPart } from './parts.js';
import { type ReceiptPlace, resultArtifact } from './result-artifact.js';
import { taskInput } from './task-input.js';

/**
 * The SDK's AgentExecutor for one OACP agent: a task per message, run once in
 * the agent's sandbox through the node's executor, answered with one result
 * artifact that carries the run's receipt. Cancelling marks the task
 * cancelled at once; a run already inside the sandbox finishes, its output is
 * dropped, and its receipt stays in the log.
 */
export class OacpAgentExecutor implements AgentExecutor {
  private readonly running = new Map<string, { controller: AbortController; contextId: string }>();

  constructor(
    private readonly agent: A2aAgent,
    private readonly run: A2aExecutor,
    private readonly place: ReceiptPlace,
  ) {}

  execute = async (request: RequestContext, bus: ExecutionEventBus): Promise<void> => {
    const { taskId, contextId } = request;
    const admission = admissionOf(request.context) ?? { from: null };
    const message = request.userMessage;
    if (request.task === undefined) {
      const task: Task = {
        id: taskId,
        contextId,
        status: { state: TaskState.TASK_STATE_SUBMITTED, message: undefined, timestamp: now() },
        artifacts: [],
        history: [message],
        metadata: {
          [OACP_A2A_EXTENSION]: {
            sender: admission.from,
            // An unsigned message's task is bound to the caller the embedding server authenticated.
            ...(admission.caller === undefined ? {} : { caller: admission.caller }),
          },
        },
      };
      bus.publish(AgentEvent.task(task));
    }
    bus.publish(this.status(taskId, contextId, TaskState.TASK_STATE_WORKING));

    const controller = new AbortController();
    this.running.set(taskId, { controller, contextId });
    let execution: A2aExecution;
    try {
      execution = await this.run(this.agent, taskInput(message, admission.from), {
        taskId,
        contextId,
        signal: controller.signal,
      });
    } catch (error) {
      execution = { ok: false, error: describeError(error) };
    } finally {
      this.running.delete(taskId);
    }
    if (controller.signal.aborted) return;

    if (execution.ok) {
      try {
        const artifact = await resultArtifact(
          this.agent.name,
          execution.output,
          execution.receipt,
          this.place,
          admission.encryptTo,
        );
        bus.publish(
          AgentEvent.artifactUpdate({
            taskId,
            contextId,
            artifact,
            append: false,
            lastChunk: true,
            metadata: undefined,
          }),
        );
        bus.publish(this.status(taskId, contextId, TaskState.TASK_STATE_COMPLETED));
      } catch (error) {
        bus.publish(this.failed(taskId, contextId, describeError(error), execution.receipt));
      }
    } else {
      bus.publish(this.failed(taskId, contextId, execution.error, execution.receipt));
    }
    bus.finished();
  };

  cancelTask = async (taskId: string, bus: ExecutionEventBus): Promise<void> => {
    const run = this.running.get(taskId);
    run?.controller.abort();
    this.running.delete(taskId);
    bus.publish(
      AgentEvent.statusUpdate({
        taskId,
        contextId: run?.contextId ?? '',
        status: { state: TaskState.TASK_STATE_CANCELED, message: undefined, timestamp: now() },
        metadata: undefined,
      }),
    );
    bus.finished();
  };

  private status(taskId: string, contextId: string, state: TaskState, message?: Message) {
    return AgentEvent.statusUpdate({
      taskId,
      contextId,
      status: { state, message, timestamp: now() },
      metadata: undefined,
    });
  }

  /** A failed run still has a receipt (what ran, and that it failed); it goes with the status message. */
  private failed(taskId: string, contextId: string, error: string, receipt: LoggedReceipt | undefined) {
    const message: Message = {
      messageId: randomUUID(),
      contextId,
      taskId,
      role: Role.ROLE_AGENT,
      parts: [textPart(error)],
      metadata:
        receipt === undefined
          ? undefined
          : {
              [OACP_A2A_EXTENSION]: {
                receipt: {
                  index: receipt.index,
                  origin: this.place.origin,
                  url: this.place.urlTemplate.replace('{index}', String(receipt.index)),
                  envelope: receipt.envelope,
                },
              },
            },
      extensions: receipt === undefined ? [] : [OACP_A2A_EXTENSION],
      referenceTaskIds: [],
    };
    return this.status(taskId, contextId, TaskState.TASK_STATE_FAILED, message);
  }
}

function now(): string {
  return new Date().toISOString();
}
