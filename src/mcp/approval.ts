import type { ApprovalRecord } from './record.js';

/** What a person is asked to approve. */
export interface ApprovalRequest {
  readonly callId: string;
  readonly agent: string;
  readonly server: string;
  readonly tool: string;
  readonly arguments: Readonly<Record<string, unknown>>;
}

/**
 * What the approver knows of the party asking. There is deliberately no way
 * to ask that party: an approval must come from the operator (terminal, HTTP
 * desk), never from the client whose call it is; a client that answers its
 * own elicitation would approve itself.
 */
export interface ApprovalChannels {
  readonly clientName?: string;
}

/** Somewhere a pending approval can wait for a person outside MCP (HTTP endpoint, terminal). */
export interface ApprovalDesk {
  readonly method: 'http' | 'terminal';
  /** Resolves when someone decides; the signal aborts when the call times out or is cancelled. */
  decide(
    request: ApprovalRequest,
    signal: AbortSignal,
  ): Promise<{ approved: boolean; by: string; reason?: string; method?: 'http' | 'terminal' }>;
}

/**
 * The reason a desk's signal carries when another desk answered first: that
 * desk withdraws its question quietly instead of reporting a timeout.
 */
export class DecidedElsewhere extends Error {
  constructor() {
    super('decided at another desk');
    this.name = 'DecidedElsewhere';
  }
}

export interface Approver {
  approve(
    request: ApprovalRequest,
    channels: ApprovalChannels,
    signal?: AbortSignal,
  ): Promise<ApprovalRecord>;
}

/**
 * `--require-approval`: asks the operator at the approval desk (the HTTP
 * endpoint, or the controlling terminal in stdio mode), else refuses. No answer within
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
      if (this.#desk !== undefined) {
        const desk = this.#desk;
        const answer = await raceAbort(desk.decide(request, combined), combined);
        const method = answer.method ?? desk.method;
        const where = method === 'http' ? 'the approval endpoint' : "the operator's terminal";
        return this.#record(
          answer.approved,
          method === 'http' ? `http:${answer.by}` : answer.by,
          method,
          `${answer.approved ? 'approved' : 'declined'} at ${where}${answer.reason === undefined ? '' : `: ${answer.reason}`}`,
        );
      }
      return this.#record(
        false,
        'nobody',
        'none',
        `approval required, but there is neither an approval endpoint (--http) nor an operator terminal; the client${channels.clientName === undefined ? '' : ` "${channels.clientName}"`} cannot approve its own call`,
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

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
