import { QuotaExceededError } from '../../airlock/quota/errors.js';
import { isOacpError, OacpError } from '../../core/errors.js';
import { redactText } from '../observability/redact.js';
import { RuntimeError } from '../runtime/errors.js';
import type { ErrorBody } from './api-schemas.js';

/** Errors the HTTP layer itself raises. */
export type HttpErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_REQUEST'
  | 'NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
  | 'HOST_REFUSED'
  | 'INTERNAL'
  | 'GATEWAY_LISTEN_REFUSED'
  | 'GATEWAY_LISTEN_FAILED'
  | 'GATEWAY_TLS_INVALID';

export function httpError(code: HttpErrorCode, message: string): OacpError<HttpErrorCode> {
  return new OacpError(code, message);
}

/** Status by error code; anything unlisted is a 500 whose message is not shown. */
const STATUS: Record<string, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  HOST_REFUSED: 403,
  RUNTIME_TOOL_UNKNOWN: 404,
  RUNTIME_TOOL_ARGUMENTS: 400,
  RUNTIME_TOOL_DENIED: 403,
  RUNTIME_POLICY_DENIED: 403,
  RUNTIME_QUOTA_EXCEEDED: 429,
  QUOTA_EXCEEDED: 429,
  RUNTIME_QUOTA_UNAVAILABLE: 503,
  RUNTIME_TOOL_FAILED: 502,
  RUNTIME_AGENT_NOT_RUNNING: 409,
  RUNTIME_AGENT_FAILED: 409,
  RUNTIME_AGENT_RESTARTING: 503,
  RUNTIME_AGENT_RUN_FAILED: 422,
  RUNTIME_CLOSED: 503,
  RUNTIME_CONTEXT_CORRUPT: 500,
  AGENT_NOT_FOUND: 404,
  AGENT_EXISTS: 409,
  AGENT_TRANSITION_INVALID: 409,
  AGENT_ILLEGAL_TRANSITION: 409,
  AGENT_STATE_CONFLICT: 409,
  AGENT_RETIRED: 409,
  AGENT_PARENT_RETIRED: 409,
  AGENT_MANIFEST_INVALID: 400,
  IDENTITY_AGENT_NAME_INVALID: 400,
  CAPABILITY_MANIFEST_INVALID: 400,
  CAPABILITY_MANIFEST_UNSIGNED: 400,
  CAPABILITY_MANIFEST_SIGNATURE: 400,
  STORE_CONFLICT: 409,
  STORE_UNAVAILABLE: 503,
  VAULT_NO_PARTITION: 404,
  VAULT_DESTROYED: 410,
  VAULT_KEY_INVALID: 400,
  VAULT_STATE_INVALID: 409,
  LOG_OUT_OF_RANGE: 404,
  CREDENTIAL_INVALID: 400,
  CREDENTIAL_UNKNOWN_AGENT: 404,
};

/** Codes whose message is safe and useful to show; an unknown internal failure is not. */
function isClientFacing(code: string): boolean {
  return STATUS[code] !== undefined && STATUS[code] !== 500;
}

export interface HttpFailure {
  readonly status: number;
  readonly body: ErrorBody;
  readonly retryAfterSeconds?: number;
}

/**
 * `{error: {code, message}}` with the status the code maps to, plus the quota
 * and receipt when there are any. Messages are passed through the log
 * redactor so no secret-shaped text ever leaves in an answer; an unexpected
 * error gets a generic message (the detail goes to the log only).
 */
export function toHttpFailure(error: unknown): HttpFailure {
  if (error instanceof QuotaExceededError) {
    return {
      status: 429,
      body: { error: { code: 'QUOTA_EXCEEDED', message: redactText(error.message), quota: error.quota } },
    };
  }
  if (isOacpError(error) && isClientFacing(error.code)) {
    const status = STATUS[error.code] ?? 500;
    const details = error instanceof RuntimeError ? error.details : {};
    const retryAfterSeconds =
      details.retryAfterMs !== undefined
        ? Math.max(1, Math.ceil(details.retryAfterMs / 1000))
        : error.code === 'RUNTIME_AGENT_RESTARTING'
          ? 1
          : undefined;
    return {
      status,
      body: {
        error: {
          code: error.code,
          message: redactText(error.message),
          ...(details.quota === undefined ? {} : { quota: details.quota }),
          ...(details.receipt === undefined ? {} : { receipt: details.receipt }),
        },
      },
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    };
  }
  return {
    status: 500,
    body: { error: { code: 'INTERNAL', message: 'internal error; see the gateway log' } },
  };
}
