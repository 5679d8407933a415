import { randomUUID } from 'node:crypto';
import type {
  AgentCard,
  CancelTaskRequest,
  DeleteTaskPushNotificationConfigRequest,
  GetExtendedAgentCardRequest,
  GetTaskPushNotificationConfigRequest,
  GetTaskRequest,
  ListTaskPushNotificationConfigsRequest,
  ListTaskPushNotificationConfigsResponse,
  ListTasksRequest,
  ListTasksResponse,
  Message,
  SendMessageRequest,
  StreamResponse,
  SubscribeToTaskRequest,
  Task,
  TaskPushNotificationConfig,
} from '@a2a-js/sdk';
import { TaskNotFoundError, UnsupportedOperationError } from '@a2a-js/sdk/errors';
import type { A2ARequestHandler, ServerCallContext } from '@a2a-js/sdk/server';
import type { RefusalReceiptLimiter } from '../airlock/quota/refusal-limit.js';
import { describeError } from '../core/errors.js';
import type { NonceStore } from '../identity/nonce-store.js';
import type { PriorChecks } from '../mcp/call-gate.js';
import { decideCall, type PipelineVerdict } from '../mcp/call-pipeline.js';
import { DEFAULT_MESSAGE_LIMITS } from '../mcp/message-limits.js';
import type { A2aAgent, A2aSecurityEvent } from './agent.js';
import { CancelExtensionSchema, MessageExtensionSchema, OACP_A2A_EXTENSION } from './extension.js';
import {
  A2A_MESSAGE_TOOL,
  type A2aTaskMethod,
  type InboundChecks,
  type InboundFacts,
  type InboundReceipts,
  messageArguments,
  refusalRecord,
  taskRefusalRecord,
  unreadRefusalRecord,
} from './inbound-calls.js';
import { type OacpJsonRpcReason, refusal } from './jsonrpc-errors.js';
import {
  TASK_SIGNATURE_HEADER,
  verifyCancelSignature,
  verifyMessageSignature,
  verifyTaskAccess,
} from './message-signature.js';
import type { TrustGraph } from './trust-graph.js';

/** What the gate established about a message, handed to the executor through the call context. */
export interface Admission {
  /** The verified sender; null when unsigned messages are allowed and this one was. */
  readonly from: string | null;
  /** For an unsigned message, the caller the embedding server authenticated (callerOf); its task is bound to it. */
  readonly caller?: string;
  readonly encryptTo?: string;
}

const ADMISSION = 'oacp.a2a.admission';

export function admissionOf(context: ServerCallContext): Admission | undefined {
  const value = context.state.get(ADMISSION);
  return typeof value === 'object' && value !== null ? (value as Admission) : undefined;
}

export interface InboundGateOptions {
  readonly agent: A2aAgent;
  readonly trust: TrustGraph;
  readonly nonces: NonceStore;
  readonly signedMessagesRequired: boolean;
  /** The local name of a sender did, when the sender is an agent of this node. */
  readonly localNameOf: (did: string) => Promise<string | undefined>;
  readonly onSecurityEvent?: (event: A2aSecurityEvent) => void;
  /** Where refused messages are recorded (the node's log); without it refusals are security events only. */
  readonly receipts?: InboundReceipts;
  /** The node's global policies and quotas on inbound messages. */
  readonly checks?: InboundChecks;
  /**
   * Bounds the receipts of refusals of unauthenticated input (anyone can cause those):
   * past it a refusal is answered the same, without a receipt of its own, and counted
   * for one summary receipt. Without it every refusal gets a receipt.
   */
  readonly refusalLimiter?: RefusalReceiptLimiter<A2aAgent>;
  readonly now?: () => number;
}

/**
 * The SDK's request handler behind OACP's inbound checks, in the order a
 * reader would check a letter: is it signed, by whom (signature, freshness,
 * replay), may that sender write to this agent at all (trust graph), and is
 * it something the agent can read. Every refusal is an A2A error that says
 * why, and a security event. Cancelling needs the signature of the task's
 * sender; listing tasks is refused (it would show one caller another's).
 */
export class InboundGate implements A2ARequestHandler {
  constructor(
    private readonly inner: A2ARequestHandler,
    private readonly options: InboundGateOptions,
  ) {}

  getAgentCard(): Promise<AgentCard> {
    return this.inner.getAgentCard();
  }

  getAuthenticatedExtendedAgentCard(
    params: GetExtendedAgentCardRequest,
    context: ServerCallContext,
  ): Promise<AgentCard> {
    return this.inner.getAuthenticatedExtendedAgentCard(params, context);
  }

  async sendMessage(params: SendMessageRequest, context: ServerCallContext): Promise<Message | Task> {
    await this.admit(params, context);
    return this.inner.sendMessage(params, context);
  }

  async *sendMessageStream(
    params: SendMessageRequest,
    context: ServerCallContext,
  ): AsyncGenerator<StreamResponse, void, undefined> {
    await this.admit(params, context);
    yield* this.inner.sendMessageStream(params, context);
  }

  async getTask(params: GetTaskRequest, context: ServerCallContext): Promise<Task> {
    await this.ownTask(params.tenant, params.id, context, 'tasks/get');
    return this.inner.getTask(params, context);
  }

  async cancelTask(params: CancelTaskRequest, context: ServerCallContext): Promise<Task> {
    const task = await this.inner.getTask(
      { tenant: params.tenant, id: params.id, historyLength: 0 },
      context,
    );
    const sender = senderOf(task);
    if (sender === null) await this.ownUnsignedTask(task, params.id, context, 'tasks/cancel');
    else {
      const entry = CancelExtensionSchema.safeParse(params.metadata?.[OACP_A2A_EXTENSION]);
      const verdict = entry.success
        ? await verifyCancelSignature(params.id, entry.data.signature, sender, this.verifyOptions())
        : { ok: false as const, reason: `no OACP signature in metadata["${OACP_A2A_EXTENSION}"]` };
      if (!verdict.ok) {
        // The operator's event names the sender; the caller is told it only when it is the sender
        // (a stale or replayed cancel): anyone else holding the id must not learn who made the task.
        this.refuse(
          'cancel_refused',
          'OACP_CANCEL_REFUSED',
          `only the task's sender ${sender} may cancel it: ${verdict.reason}`,
          context,
          callerOf(context) !== undefined,
          sender,
        );
        await this.recordTaskRefusal('tasks/cancel', params.id, CANCEL_REFUSED, context);
        const bySender = entry.success && entry.data.signature.signer === sender;
        throw refusal(
          'OACP_CANCEL_REFUSED',
          bySender
            ? `only the task's sender may cancel it: ${verdict.reason}`
            : `${CANCEL_REFUSED} (metadata["${OACP_A2A_EXTENSION}"].signature, docs/a2a.md)`,
        );
      }
    }
    return this.inner.cancelTask(params, context);
  }

  listTasks(_params: ListTasksRequest, _context: ServerCallContext): Promise<ListTasksResponse> {
    return Promise.reject(
      new UnsupportedOperationError(
        'listing tasks is not offered: it would show one caller the tasks of another',
      ),
    );
  }

  async createTaskPushNotificationConfig(
    params: TaskPushNotificationConfig,
    context: ServerCallContext,
  ): Promise<TaskPushNotificationConfig> {
    await this.ownPushTask(params.tenant, params.taskId, context, 'tasks/pushNotificationConfig/set');
    return this.inner.createTaskPushNotificationConfig(params, context);
  }

  async getTaskPushNotificationConfig(
    params: GetTaskPushNotificationConfigRequest,
    context: ServerCallContext,
  ): Promise<TaskPushNotificationConfig> {
    await this.ownPushTask(params.tenant, params.taskId, context, 'tasks/pushNotificationConfig/get');
    return this.inner.getTaskPushNotificationConfig(params, context);
  }

  async listTaskPushNotificationConfigs(
    params: ListTaskPushNotificationConfigsRequest,
    context: ServerCallContext,
  ): Promise<ListTaskPushNotificationConfigsResponse> {
    await this.ownPushTask(params.tenant, params.taskId, context, 'tasks/pushNotificationConfig/list');
    return this.inner.listTaskPushNotificationConfigs(params, context);
  }

  async deleteTaskPushNotificationConfig(
    params: DeleteTaskPushNotificationConfigRequest,
    context: ServerCallContext,
  ): Promise<void> {
    await this.ownPushTask(params.tenant, params.taskId, context, 'tasks/pushNotificationConfig/delete');
    return this.inner.deleteTaskPushNotificationConfig(params, context);
  }

  async *resubscribe(
    params: SubscribeToTaskRequest,
    context: ServerCallContext,
  ): AsyncGenerator<StreamResponse, void, undefined> {
    await this.ownTask(params.tenant, params.id, context, 'tasks/resubscribe');
    yield* this.inner.resubscribe(params, context);
  }

  /**
   * The push-config methods: where the card offers no push notifications the SDK refuses
   * each of them alike, whatever the task id (PushNotificationNotSupported); checking the
   * task first would answer a stranger's id differently from an unknown one.
   */
  private async ownPushTask(
    tenant: string,
    taskId: string,
    context: ServerCallContext,
    method: A2aTaskMethod,
  ): Promise<void> {
    const card = await this.inner.getAgentCard();
    if (card.capabilities?.pushNotifications !== true) return;
    await this.ownTask(tenant, taskId, context, method);
  }

  /**
   * A task made by a signed message is its sender's: a request that reads or
   * watches it must carry that sender's fresh signature for this task
   * (TASK_SIGNATURE_HEADER). A task from an unsigned message (only where
   * unsigned messages are allowed) is the caller's that the embedding server
   * authenticated when it was made (ownUnsignedTask). Anyone else is answered
   * exactly as for a task that does not exist (TaskNotFound, the SDK's own
   * words), so a leaked or guessed id reveals nothing; both are recorded
   * alike, one receipt with the same reason, so the log tells them apart no
   * better than the answer does.
   */
  private async ownTask(
    tenant: string,
    taskId: string,
    context: ServerCallContext,
    method: A2aTaskMethod,
  ): Promise<void> {
    let task: Task;
    try {
      task = await this.inner.getTask({ tenant, id: taskId, historyLength: 0 }, context);
    } catch (error) {
      if (error instanceof TaskNotFoundError)
        await this.recordTaskRefusal(method, taskId, notTheCallers(taskId), context);
      throw error;
    }
    const sender = senderOf(task);
    if (sender === null) {
      await this.ownUnsignedTask(task, taskId, context, method);
      return;
    }
    const headers = context.state.get('headers') as Record<string, string | undefined> | undefined;
    const header = headers?.[TASK_SIGNATURE_HEADER];
    const verdict =
      header === undefined
        ? { ok: false as const, reason: `no ${TASK_SIGNATURE_HEADER} header` }
        : await verifyTaskAccess(taskId, header, sender, this.verifyOptions());
    if (verdict.ok) return;
    this.refuse(
      'task_refused',
      'OACP_TRUST_DENIED',
      `task ${taskId} is not the caller's: ${verdict.reason}`,
      context,
      callerOf(context) !== undefined,
    );
    await this.recordTaskRefusal(method, taskId, notTheCallers(taskId), context);
    throw new TaskNotFoundError(`Task not found: ${taskId}`);
  }

  /**
   * A task from an unsigned message is its caller's: the request must come from
   * the same caller the embedding server authenticated when the task was made.
   * A task made by an unauthenticated caller belongs to nobody who can prove it,
   * so nobody reads it after the answer that made it. Anyone else: TaskNotFound.
   */
  private async ownUnsignedTask(
    task: Task,
    taskId: string,
    context: ServerCallContext,
    method: A2aTaskMethod,
  ): Promise<void> {
    const owner = callerBoundTo(task);
    const caller = callerOf(context);
    if (owner !== undefined && caller === owner) return;
    const why =
      owner === undefined
        ? 'it was made by an unauthenticated caller, so no caller can prove it is theirs'
        : caller === undefined
          ? 'the request comes from an unauthenticated caller'
          : 'it was made by another caller';
    this.refuse(
      'task_refused',
      'OACP_TRUST_DENIED',
      `task ${taskId} is not the caller's: ${why}`,
      context,
      caller !== undefined,
    );
    await this.recordTaskRefusal(method, taskId, notTheCallers(taskId), context);
    throw new TaskNotFoundError(`Task not found: ${taskId}`);
  }

  /** One receipt for a refused task call, when the node records them; the refusal stands either way. */
  private async recordTaskRefusal(
    method: A2aTaskMethod,
    taskId: string,
    reason: string,
    context: ServerCallContext,
  ): Promise<void> {
    const receipts = this.options.receipts;
    if (receipts === undefined || !this.mayRecord(context, callerOf(context) !== undefined)) return;
    try {
      await receipts.record(
        taskRefusalRecord(this.options.agent, randomUUID(), method, taskId, reason, new Date()),
      );
    } catch {
      // The refusal stands either way.
    }
  }

  /**
   * A message is decided by decideCall, the same ordered checks as every tool
   * call: shape and limits (text and data parts only, nesting), the receipt
   * slot, then identity (signature, freshness, replay), the trust graph and
   * the task's owner. A refusal is an A2A error saying why, a security event,
   * and, when the node records them, one receipt naming the reason.
   */
  private async admit(params: SendMessageRequest, context: ServerCallContext): Promise<void> {
    const { agent } = this.options;
    const message = params.message;
    if (message === undefined) {
      const reason = 'the request carries no message';
      // Refused on its shape with nothing to read, recorded as a message refused unread is.
      if (this.mayRecord(context, callerOf(context) !== undefined))
        await this.options.receipts
          ?.record(unreadRefusalRecord(agent, randomUUID(), reason, new Date()))
          .catch(() => undefined);
      throw this.refuse(
        'malformed_request',
        'OACP_SIGNATURE_INVALID',
        reason,
        context,
        callerOf(context) !== undefined,
      );
    }
    const startedAt = new Date();
    const callId = randomUUID();
    let refusedBy: { type: A2aSecurityEvent['type']; code: OacpJsonRpcReason; sender?: string } = {
      type: 'malformed_request',
      code: 'OACP_MESSAGE_LIMITS',
    };
    let admission: Admission = { from: null };
    let facts: InboundFacts = { agent, sender: null };
    /** The sender as its signature proved it (a replay is a verified signature seen before); never a claim. */
    let provenSender: string | undefined;
    const deny = (
      type: A2aSecurityEvent['type'],
      code: OacpJsonRpcReason,
      reason: string,
      sender?: string,
    ) => {
      refusedBy = { type, code, ...(sender === undefined ? {} : { sender }) };
      return { ok: false as const, reason };
    };
    const verdict = await decideCall(
      { name: A2A_MESSAGE_TOOL, arguments: messageArguments(message) },
      {
        limits: DEFAULT_MESSAGE_LIMITS,
        validate: () => {
          const unsupported = message.parts.find(
            (part) => part.content?.$case !== 'text' && part.content?.$case !== 'data',
          );
          if (unsupported === undefined) return undefined;
          refusedBy = { type: 'malformed_request', code: 'OACP_UNSUPPORTED_PART' };
          return `agent ${agent.name} reads text and data parts only, got a ${unsupported.content?.$case ?? 'empty'} part`;
        },
        reserve: () => {
          if (this.options.receipts === undefined) return undefined;
          try {
            this.options.receipts.reserve();
            return undefined;
          } catch (error) {
            refusedBy = { type: 'receipt_unavailable', code: 'OACP_RECEIPT_UNAVAILABLE' };
            return {
              effect: 'deny',
              reason: `no receipt can be written, so the message is refused: ${describeError(error)}`,
            };
          }
        },
        identify: async () => {
          const raw = message.metadata?.[OACP_A2A_EXTENSION];
          if (raw === undefined) {
            if (this.options.signedMessagesRequired) {
              return deny(
                'signature_required',
                'OACP_SIGNATURE_REQUIRED',
                `agent ${agent.name} accepts only messages signed by the sender's did:key (metadata["${OACP_A2A_EXTENSION}"].signature, docs/a2a.md)`,
              );
            }
            const caller = callerOf(context);
            const owner = await this.taskOwnerRefusal(params, context, null, caller);
            if (owner !== undefined) return deny('trust_denied', 'OACP_TRUST_DENIED', owner);
            admission = caller === undefined ? { from: null } : { from: null, caller };
            return { ok: true, id: 'unsigned', verified: false, ownBucket: false };
          }
          const entry = MessageExtensionSchema.safeParse(raw);
          if (!entry.success) {
            const issue = entry.error.issues[0];
            return deny(
              'signature_invalid',
              'OACP_SIGNATURE_INVALID',
              `metadata["${OACP_A2A_EXTENSION}"].${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
            );
          }
          const { signature, encryptTo } = entry.data;
          const verified = await verifyMessageSignature(message, signature, this.verifyOptions());
          if (!verified.ok) {
            const replay = verified.reason === 'replayed nonce';
            if (replay) provenSender = signature.signer;
            return deny(
              replay ? 'replay' : 'signature_invalid',
              replay ? 'OACP_REPLAYED' : 'OACP_SIGNATURE_INVALID',
              replay
                ? `this signed message was already delivered (nonce seen before); sign each message afresh`
                : `the message signature does not verify: ${verified.reason}`,
              signature.signer,
            );
          }
          provenSender = verified.signer;
          const localName = await this.options.localNameOf(verified.signer);
          const trust = this.options.trust.decide(
            localName === undefined ? { did: verified.signer } : { did: verified.signer, localName },
            { did: agent.did, localName: agent.name },
          );
          if (trust.effect === 'deny') {
            return deny('trust_denied', 'OACP_TRUST_DENIED', trust.reason, verified.signer);
          }
          const owner = await this.taskOwnerRefusal(params, context, verified.signer, undefined);
          if (owner !== undefined) return deny('trust_denied', 'OACP_TRUST_DENIED', owner, verified.signer);
          admission = { from: verified.signer, ...(encryptTo === undefined ? {} : { encryptTo }) };
          facts = {
            agent,
            sender: verified.signer,
            ...(localName === undefined ? {} : { senderName: localName }),
          };
          // Admitted by the operator's trust list, so the sender is one the operator named.
          return { ok: true, id: verified.signer, verified: true, ownBucket: true };
        },
        gate: {},
        callId,
        server: `a2a:${agent.name}`,
        channels: {},
        prior: this.priorChecks(
          () => facts,
          (type, code) => {
            refusedBy = { type, code, ...(facts.sender === null ? {} : { sender: facts.sender }) };
          },
        ),
      },
    );
    if (verdict.decision.effect === 'deny') {
      // Authenticated: the embedding server knows the caller, or the trust graph admitted the
      // signer (a did:key anyone can mint, or a replayed signature, proves nobody the node knows).
      const authenticated = callerOf(context) !== undefined || facts.sender !== null;
      const receipt = this.mayRecord(context, authenticated)
        ? await this.recordRefusal(callId, verdict, provenSender, startedAt)
        : undefined;
      const note = receipt === undefined ? '' : ` (receipt #${receipt.index})`;
      throw this.refuse(
        refusedBy.type,
        refusedBy.code,
        `${verdict.decision.reason}${note}`,
        context,
        authenticated,
        refusedBy.sender,
      );
    }
    context.state.set(ADMISSION, admission);
  }

  /** The node's global policies and quotas as the pipeline's prior checks; `refused` learns which refused. */
  private priorChecks(
    facts: () => InboundFacts,
    refused: (type: A2aSecurityEvent['type'], code: OacpJsonRpcReason) => void,
  ): PriorChecks {
    const policy = this.options.checks?.policy;
    const quota = this.options.checks?.quota;
    return {
      ...(policy === undefined
        ? {}
        : {
            policy: () => {
              const decision = policy(facts());
              if (decision.effect === 'deny') refused('policy_denied', 'OACP_POLICY_DENIED');
              return decision;
            },
          }),
      ...(quota === undefined
        ? {}
        : {
            quota: async () => {
              const decision = await quota(facts());
              if (decision.effect === 'deny') refused('quota_exceeded', 'OACP_QUOTA_EXCEEDED');
              return decision;
            },
          }),
    };
  }

  /** One receipt for a refused message, when the node records them; undefined when none was written. */
  private async recordRefusal(
    callId: string,
    verdict: PipelineVerdict,
    sender: string | undefined,
    startedAt: Date,
  ): Promise<{ readonly index: number } | undefined> {
    const receipts = this.options.receipts;
    if (receipts === undefined) return undefined;
    try {
      return await receipts.record(refusalRecord(this.options.agent, callId, verdict, sender, startedAt));
    } catch {
      // The refusal stands either way; its message then carries no receipt number.
      return undefined;
    }
  }

  /**
   * A follow-up message joins an existing task only when it comes from that
   * task's sender (for an unsigned task, unsigned and from the caller it is
   * bound to): else why not.
   */
  private async taskOwnerRefusal(
    params: SendMessageRequest,
    context: ServerCallContext,
    from: string | null,
    caller: string | undefined,
  ): Promise<string | undefined> {
    const taskId = params.message?.taskId ?? '';
    if (taskId === '') return undefined;
    // An unknown task id is the SDK's to refuse (TaskNotFound); only an existing task has an owner.
    const task = await this.inner
      .getTask({ tenant: params.tenant, id: taskId, historyLength: 0 }, context)
      .catch(() => undefined);
    if (task === undefined) return undefined;
    const owner = senderOf(task);
    // Who made the task is not the business of whoever else holds its id (nor of the public receipt).
    if (owner !== from)
      return `task ${taskId} belongs to ${owner === null ? 'an unsigned sender' : 'another sender'}; only it may continue the task`;
    if (owner !== null) return undefined;
    const bound = callerBoundTo(task);
    if (bound !== undefined && bound === caller) return undefined;
    return `task ${taskId} belongs to another caller (or to an unauthenticated one); only the caller that made it may continue it`;
  }

  /** Whether this refusal gets its own receipt: always for an authenticated caller, else within the limits. */
  private mayRecord(context: ServerCallContext, authenticated: boolean): boolean {
    const limiter = this.options.refusalLimiter;
    if (limiter === undefined || authenticated) return true;
    return limiter.admit(this.options.agent, sourceOf(context));
  }

  private verifyOptions() {
    return {
      agentDid: this.options.agent.did,
      nonces: this.options.nonces,
      ...(this.options.now === undefined ? {} : { now: this.options.now }),
    };
  }

  private refuse(
    type: A2aSecurityEvent['type'],
    reason: Parameters<typeof refusal>[0],
    message: string,
    context: ServerCallContext,
    authenticated: boolean,
    sender?: string,
  ): Error {
    try {
      this.options.onSecurityEvent?.({
        type,
        agent: this.options.agent.name,
        ...(sender === undefined ? {} : { sender }),
        reason: message,
        ...(authenticated ? {} : { unauthenticated: { source: sourceOf(context) } }),
      });
    } catch {
      // A failing audit sink must not turn a refusal into a crash; the refusal stands.
    }
    return refusal(reason, message);
  }
}

/** What a cancel by anyone but the task's sender is told, and its receipt says. */
const CANCEL_REFUSED = "only the task's sender may cancel it, by a cancel it signed";

/** The public reason for a task call refused for its owner: the same for an id that does not exist. */
function notTheCallers(taskId: string): string {
  return `task ${taskId} was not found among the caller's tasks`;
}

/** The sender recorded on a task when it was created; null for an unsigned task. */
export function senderOf(task: Task): string | null {
  const sender = taskEntry(task).sender;
  return typeof sender === 'string' ? sender : null;
}

/** The caller an unsigned task was bound to when it was created (Admission.caller); undefined when none. */
export function callerBoundTo(task: Task): string | undefined {
  const caller = taskEntry(task).caller;
  return typeof caller === 'string' && caller !== '' ? caller : undefined;
}

/** The caller the embedding server authenticated (A2aServerOptions.user); undefined when unauthenticated. */
export function callerOf(context: ServerCallContext): string | undefined {
  const user = context.user;
  if (user?.isAuthenticated !== true) return undefined;
  const name = user.userName;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/** Where the state holds the request's source (its client address) for the receipt limits. */
export const SOURCE_STATE = 'oacp.a2a.source';

/** The request's source as the server put it in the context; 'unknown' when it could not tell. */
function sourceOf(context: ServerCallContext): string {
  const source = context.state.get(SOURCE_STATE);
  return typeof source === 'string' && source !== '' ? source : 'unknown';
}

function taskEntry(task: Task): { readonly sender?: unknown; readonly caller?: unknown } {
  const entry: unknown = task.metadata?.[OACP_A2A_EXTENSION];
  return typeof entry === 'object' && entry !== null ? entry : {};
}
