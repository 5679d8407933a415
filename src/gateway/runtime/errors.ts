import { OacpError } from '../../core/errors.js';
import type { ReceiptLink } from './receipt-recorder.js';

/** Why the runtime refused or failed; the HTTP layer maps each code to a status. */
export type RuntimeErrorCode =
  | 'RUNTIME_TOOL_UNKNOWN'
  | 'RUNTIME_TOOL_EXISTS'
  | 'RUNTIME_TOOL_ARGUMENTS'
  | 'RUNTIME_TOOL_DENIED'
  | 'RUNTIME_TOOL_FAILED'
  /** A model call from an agent's code that the model gateway refused or could not complete. */
  | 'RUNTIME_MODEL_FAILED'
  | 'RUNTIME_QUOTA_EXCEEDED'
  /** The quota store could not answer: the call is refused (fail closed), HTTP 503. */
  | 'RUNTIME_QUOTA_UNAVAILABLE'
  | 'RUNTIME_POLICY_DENIED'
  /** The receipt log cannot take the call's receipt now: nothing ran (fail closed), HTTP 503. */
  | 'RUNTIME_RECEIPT_UNAVAILABLE'
  /** The caller's proof of identity did not hold (a replayed signed request), HTTP 401. */
  | 'RUNTIME_IDENTITY_REFUSED'
  | 'RUNTIME_POLICY_INVALID'
  | 'RUNTIME_AGENT_NOT_RUNNING'
  | 'RUNTIME_AGENT_RESTARTING'
  | 'RUNTIME_AGENT_FAILED'
  | 'RUNTIME_AGENT_RUN_FAILED'
  | 'RUNTIME_CLOSED';

export interface RuntimeErrorDetails {
  /** The quota that refused (`agent.api_calls_per_hour`, `tool.echo.calls_per_min`, `api_key.k1.calls_per_min`, `agent.llm_tokens`). */
  readonly quota?: string;
  readonly retryAfterMs?: number;
  /** The receipt logged for a refused or failed call: refusals are attested too. */
  readonly receipt?: ReceiptLink;
}

/** A runtime refusal or failure, with what the caller needs to act on it. */
export class RuntimeError extends OacpError<RuntimeErrorCode> {
  constructor(
    code: RuntimeErrorCode,
    message: string,
    readonly details: RuntimeErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'RuntimeError';
  }

  withReceipt(receipt: ReceiptLink): RuntimeError {
    return new RuntimeError(this.code, this.message, { ...this.details, receipt }, { cause: this.cause });
  }
}

export function runtimeError(code: RuntimeErrorCode, message: string, cause?: unknown): RuntimeError {
  return new RuntimeError(code, message, {}, cause === undefined ? undefined : { cause });
}

/** Over a quota: HTTP 429 naming the quota. */
export function quotaRefusal(quota: string, message: string, retryAfterMs?: number): RuntimeError {
  return new RuntimeError('RUNTIME_QUOTA_EXCEEDED', message, {
    quota,
    ...(retryAfterMs === undefined || !Number.isFinite(retryAfterMs) ? {} : { retryAfterMs }),
  });
}
