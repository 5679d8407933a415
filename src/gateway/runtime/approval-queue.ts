import { randomUUID } from 'node:crypto';
import type { ApprovalDesk, ApprovalRequest } from '../../mcp/approval.js';
import { qualifiedToolName } from '../../mcp/tool-names.js';

/** A call waiting for an operator, as `GET /v1/approvals` lists it. */
export interface PendingApproval {
  readonly id: string;
  readonly since: string;
  /** The tool as agents, receipts and policies name it: `<server>__<tool>` (src/mcp/tool-names.ts). */
  readonly name: string;
  readonly request: ApprovalRequest;
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

interface Waiting extends PendingApproval {
  settle(answer: { approved: boolean; by: string; reason?: string }): void;
}

/**
 * The gateway's approval desk: bridged servers with `require_approval` park
 * their calls here, and the console (or any client holding `approvals:decide`)
 * decides them over `/v1/approvals`. The approver recorded in the receipt is
 * the API key that decided; a key bound to an agent never decides, so an
 * agent cannot approve its own call (nor another agent's).
 */
export class GatewayApprovalQueue implements ApprovalDesk {
  readonly method = 'http' as const;
  readonly #waiting = new Map<string, Waiting>();

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
        name: qualifiedToolName(request.server, request.tool),
        request,
        settle: (answer) => {
          done();
          resolve(answer);
        },
      });
    });
  }

  pending(): PendingApproval[] {
    return [...this.#waiting.values()].map(({ id, since, name, request }) => ({ id, since, name, request }));
  }

  /** Decides one pending call; a refusal says why (unknown id, or an agent's key). */
  answer(id: string, approver: Approver, approved: boolean, reason: string): ApprovalAnswer {
    const waiting = this.#waiting.get(id);
    if (waiting === undefined)
      return {
        effect: 'deny',
        code: 'NOT_FOUND',
        reason: `no pending approval ${id} (decided, timed out or cancelled)`,
      };
    if (approver.agentId !== undefined) {
      const own = approver.agentId === waiting.request.agent;
      return {
        effect: 'deny',
        code: 'FORBIDDEN',
        reason: own
          ? `API key ${approver.keyId} belongs to ${approver.agentId}, the agent whose call this is: an agent cannot approve its own call`
          : `API key ${approver.keyId} belongs to agent ${approver.agentId}: approvals are decided with an operator's key`,
      };
    }
    waiting.settle({ approved, by: `api-key:${approver.keyId}`, ...(reason === '' ? {} : { reason }) });
    return { effect: 'allow', id, approved };
  }
}
