import type { ApprovalRecord } from './record.js';

/** What a person is asked to approve. */
export interface ApprovalRequest {
  readonly callId: string;
  readonly agent: string;
  readonly server: string;
  readonly tool: string;
  readonly arguments: Readonly<Record<string, unknown>>;
}

/** Ways to reach a person for this call; the session fills in what its client supports. */
export interface ApprovalChannels {
  /** Sends an MCP `elicitation/create` to the client and resolves with its result. */
  readonly elicit?: (
    params: Record<string, unknown>,
    signal: AbortSignal,
  ) => Promise<Record<string, unknown>>;
  readonly clientName?: string;
}

/** Somewhere a pending approval can wait for a person outside MCP (HTTP endpoint, terminal). */
export interface ApprovalDesk {
  readonly method: 'http' | 'terminal';
  /** Resolves when someone decides; the signal aborts when the call times out or is cancelled. */
  decide(request: ApprovalRequest, signal: AbortSignal): Promise<{ approved: boolean; by: string }>;
}

export interface Approver {
  approve(
    request: ApprovalRequest,
    channels: ApprovalChannels,
    signal?: AbortSignal,
  ): Promise<ApprovalRecord>;
}

/**
 * `--require-approval`: asks through MCP elicitation when the client supports
 * it, else at the approval desk (HTTP endpoint), else refuses. No answer within
 * `timeoutMs` is a deny, and so is any failure to ask.
 */
export class ApprovalService implements Approver {
  readonly #timeoutMs: number;
  readonly #desk: ApprovalDesk | undefined;
  readonly #now: () => Date;

  constructor(options: { timeoutMs?: number; desk?: ApprovalDesk; now?: () => Date } = {}) {
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#desk = options.desk;
    this.#now = options.now ?? (() => new Date());
  }

  async approve(
    request: ApprovalRequest,
    channels: ApprovalChannels,
    signal?: AbortSignal,
  ): Promise<ApprovalRecord> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    try {
      if (channels.elicit !== undefined) {
        return await this.#byElicitation(request, channels.elicit, channels.clientName, combined);
      }
      if (this.#desk !== undefined) {
        const desk = this.#desk;
        const answer = await raceAbort(desk.decide(request, combined), combined);
        const where = desk.method === 'http' ? 'the approval endpoint' : "the operator's terminal";
        return this.#record(
          answer.approved,
          desk.method === 'http' ? `http:${answer.by}` : answer.by,
          desk.method,
          answer.approved ? `approved at ${where}` : `declined at ${where}`,
        );
      }
      return this.#record(
        false,
        'nobody',
        'none',
        'approval required, but the client does not support elicitation and there is neither an approval endpoint (--http) nor an operator terminal',
      );
    } catch (error) {
      if (timeout.aborted) {
        return this.#record(false, 'timeout', 'none', `no approval within ${this.#timeoutMs / 1000} s`);
      }
      if (signal?.aborted)
        return this.#record(false, 'cancelled', 'none', 'the call was cancelled while awaiting approval');
      return this.#record(false, 'error', 'none', `could not ask for approval: ${describe(error)}`);
    }
  }

  async #byElicitation(
    request: ApprovalRequest,
    elicit: NonNullable<ApprovalChannels['elicit']>,
    clientName: string | undefined,
    signal: AbortSignal,
  ): Promise<ApprovalRecord> {
    const by = `elicitation:${clientName ?? 'client'}`;
    const result = await elicit(
      {
        message:
          `OACP: agent ${request.agent} wants to call tool "${request.tool}" on server "${request.server}" ` +
          `with arguments ${preview(request.arguments)}. Approve this call?`,
        requestedSchema: {
          type: 'object',
          properties: {
            approve: { type: 'boolean', title: 'Approve', description: `Allow this call to ${request.tool}` },
          },
          required: ['approve'],
        },
      },
      signal,
    );
    const content = result.content as Record<string, unknown> | undefined;
    if (result.action === 'accept' && content?.approve === true) {
      return this.#record(true, by, 'elicitation', 'approved by the user through the MCP client');
    }
    const what = result.action === 'accept' ? 'not approved' : `${String(result.action)}ed`;
    return this.#record(false, by, 'elicitation', `approval ${what} by the user through the MCP client`);
  }

  #record(approved: boolean, by: string, method: ApprovalRecord['method'], reason: string): ApprovalRecord {
    return { approved, by, method, reason, at: this.#now().toISOString() };
  }
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function preview(args: Readonly<Record<string, unknown>>): string {
  const text = JSON.stringify(args);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
