import { randomUUID } from 'node:crypto';
import { echoText } from '../../core/redact.js';
import type { ApprovalDesk, ApprovalRequest } from '../../mcp/approval.js';
import type { ApprovalSpool } from '../../mcp/approval-remote.js';
import { shownArguments } from '../../mcp/approval-shown.js';
import { qualifiedToolName } from '../../mcp/tool-names.js';

/** A call waiting for an operator, as `GET /v1/approvals` lists it. */
export interface PendingApproval {
  readonly id: string;
  readonly since: string;
  /** The tool as agents, receipts and policies name it: `<server>__<tool>` (src/mcp/tool-names.ts). */
  readonly name: string;
  /** `gateway`: a server this gateway bridges; `bridge`: a standalone `oacp mcp run` on the same home. */
  readonly origin: 'gateway' | 'bridge';
  /** The call, with only the arguments the server's `approval_show_arguments` lets a person see. */
  readonly request: ApprovalRequest;
  /** Names of the arguments whose values are withheld. */
  readonly hiddenArguments: readonly string[];
}

/** Who decides, as the authenticated API key tells it (never what the body says). */
export interface Approver {
  readonly keyId: string;
  /** Set when the key is bound to an agent (its own key). */
  readonly agentId?: string;
}

export type ApprovalAnswer =
  | { readonly effect: 'allow'; readonly id: string; readonly approved: boolean }
  | { readonly effect: 'deny'; readonly code: 'NOT_FOUND' | 'FORBIDDEN'; readonly reason: string };

interface Waiting {
  readonly id: string;
  readonly since: string;
  readonly request: ApprovalRequest;
  settle(answer: { approved: boolean; by: string; reason?: string }): void;
}

/**
 * The gateway's approval desk: bridged servers with `require_approval` park
 * their calls here, standalone bridges on the same home park theirs in the
 * home's spool (src/mcp/approval-remote.ts), and the console (or any client
 * holding `approvals:decide`) lists and decides both over `/v1/approvals`.
 * Arguments are cut to what each server lets a person see before they leave
 * this object. The approver recorded in the receipt is the API key that
 * decided; a key bound to an agent never decides, so an agent cannot approve
 * its own call (nor another agent's).
 */
export class GatewayApprovalQueue implements ApprovalDesk {
  readonly method = 'http' as const;
  readonly #waiting = new Map<string, Waiting>();
  readonly #show: ReadonlyMap<string, readonly string[]>;
  readonly #spool: ApprovalSpool | undefined;

  constructor(
    options: {
      /** Per server: the argument fields (or `*`) a person may see; a server not named shows none. */
      readonly show?: ReadonlyMap<string, readonly string[]>;
      /** The home's spool of standalone bridges' approvals. */
      readonly spool?: ApprovalSpool;
    } = {},
  ) {
    this.#show = options.show ?? new Map();
    this.#spool = options.spool;
  }

  decide(
    request: ApprovalRequest,
    signal: AbortSignal,
  ): Promise<{ approved: boolean; by: string; reason?: string }> {
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const done = () => this.#waiting.delete(id);
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener(
        'abort',
        () => {
          done();
          reject(signal.reason);
        },
        { once: true },
      );
      this.#waiting.set(id, {
        id,
        since: new Date().toISOString(),
        request,
        settle: (answer) => {
          done();
          resolve(answer);
        },
      });
    });
  }

  async pending(): Promise<PendingApproval[]> {
    const local = [...this.#waiting.values()].map(({ id, since, request }): PendingApproval => {
      const view = shownArguments(request.arguments, this.#show.get(request.server) ?? []);
      return {
        id,
        since,
        name: qualifiedToolName(request.server, request.tool),
        origin: 'gateway',
        request: { ...request, arguments: view.arguments },
        hiddenArguments: view.hidden,
      };
    });
    // A spool this gateway cannot read (another user's home) hides only the bridges' calls, which then time out.
    const bridged = (await this.#spool?.list().catch(() => [])) ?? [];
    return [
      ...local,
      ...bridged.map(
        (entry): PendingApproval => ({
          id: entry.id,
          since: entry.since,
          name: entry.name,
          origin: 'bridge',
          request: entry.request,
          hiddenArguments: entry.hidden,
        }),
      ),
    ];
  }

  /** Decides one pending call; a refusal says why (unknown id, or an agent's key). */
  async answer(id: string, approver: Approver, approved: boolean, reason: string): Promise<ApprovalAnswer> {
    const waiting = this.#waiting.get(id);
    const agent = waiting?.request.agent ?? (await this.#spool?.waiting(id))?.request.agent;
    if (agent === undefined)
      return {
        effect: 'deny',
        code: 'NOT_FOUND',
        reason: `no pending approval ${echoText(id)} (decided, timed out or cancelled)`,
      };
    if (approver.agentId !== undefined) {
      const own = approver.agentId === agent;
      return {
        effect: 'deny',
        code: 'FORBIDDEN',
        reason: own
          ? `API key ${approver.keyId} belongs to ${approver.agentId}, the agent whose call this is: an agent cannot approve its own call`
          : `API key ${approver.keyId} belongs to agent ${approver.agentId}: approvals are decided with an operator's key`,
      };
    }
    const decision = { approved, by: `api-key:${approver.keyId}`, ...(reason === '' ? {} : { reason }) };
    if (waiting !== undefined) {
      waiting.settle(decision);
      return { effect: 'allow', id, approved };
    }
    const spooled = (await this.#spool?.decide(id, decision)) ?? 'unknown';
    if (spooled === 'decided') return { effect: 'allow', id, approved };
    return {
      effect: 'deny',
      code: 'NOT_FOUND',
      reason: `no pending approval ${echoText(id)} (decided, timed out or cancelled)`,
    };
  }
}
