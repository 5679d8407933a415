import type { A2aErrorCode } from '../../a2a/errors.js';
import type { HttpRefusal } from '../../a2a/http-refusal.js';
import type { QuotaErrorCode } from '../../airlock/quota/errors.js';
import { QuotaExceededError } from '../../airlock/quota/errors.js';
import type { CapabilityErrorCode } from '../../capability/errors.js';
import type { ClusterErrorCode } from '../../cluster/errors.js';
import { isOacpError, OacpError } from '../../core/errors.js';
import { ANSWER_MAX, echoText } from '../../core/redact.js';
import type { SecretValues } from '../../core/secret-values.js';
import type { IdentityErrorCode } from '../../identity/errors.js';
import type { LogErrorCode } from '../../log/errors.js';
import type { StoreErrorCode } from '../../store/errors.js';
import type { AgentErrorCode } from '../agents/errors.js';
import type { ApiKeyErrorCode } from '../apikeys/errors.js';
import type { CredentialErrorCode } from '../credentials/errors.js';
import type { AgentDirectoryErrorCode } from '../runtime/agent-directory.js';
import { RuntimeError, type RuntimeErrorCode } from '../runtime/errors.js';
import type { VaultErrorCode } from '../vault/errors.js';
import type { ErrorBody } from './api-schemas.js';

/** Errors the HTTP layer itself raises. */
export type HttpErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_REQUEST'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'BODIES_BUSY'
  | 'STREAMS_BUSY'
  | 'HEADERS_TOO_LARGE'
  | 'EXPECTATION_FAILED'
  | 'HOST_REFUSED'
  | 'INTERNAL'
  | 'GATEWAY_LISTEN_REFUSED'
  | 'GATEWAY_LISTEN_FAILED'
  | 'GATEWAY_TLS_INVALID';

export function httpError(code: HttpErrorCode, message: string): OacpError<HttpErrorCode> {
  return new OacpError(code, message);
}

export type HttpStatus =
  | 400
  | 401
  | 403
  | 404
  | 405
  | 409
  | 410
  | 413
  | 417
  | 422
  | 429
  | 431
  | 500
  | 502
  | 503;

/**
 * Every code a request can end with. Whole unions of the domains the routes
 * call, so a code added to one of them does not compile until it is given a
 * status here (instead of silently becoming a 500); from the lower layers,
 * the codes a request can legitimately cause.
 */
export type MappedErrorCode =
  | HttpErrorCode
  | RuntimeErrorCode
  | AgentErrorCode
  | AgentDirectoryErrorCode
  | ApiKeyErrorCode
  | CredentialErrorCode
  | VaultErrorCode
  | CapabilityErrorCode
  | ClusterErrorCode
  | QuotaErrorCode
  | Extract<A2aErrorCode, 'A2A_AGENT_UNKNOWN'>
  | Extract<IdentityErrorCode, 'IDENTITY_AGENT_NAME_INVALID'>
  | Extract<StoreErrorCode, 'STORE_CONFLICT' | 'STORE_UNAVAILABLE'>
  | Extract<LogErrorCode, 'LOG_OUT_OF_RANGE' | 'LOG_CORRUPT'>;

/** Status by code; a 500's message is never shown (the detail goes to the log). */
const STATUS: { readonly [C in MappedErrorCode]: HttpStatus } = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  BODIES_BUSY: 503,
  STREAMS_BUSY: 503,
  HEADERS_TOO_LARGE: 431,
  EXPECTATION_FAILED: 417,
  HOST_REFUSED: 403,
  INTERNAL: 500,
  GATEWAY_LISTEN_REFUSED: 500,
  GATEWAY_LISTEN_FAILED: 500,
  GATEWAY_TLS_INVALID: 500,
  RUNTIME_TOOL_UNKNOWN: 404,
  RUNTIME_TOOL_EXISTS: 500,
  RUNTIME_TOOL_ARGUMENTS: 400,
  RUNTIME_TOOL_DENIED: 403,
  RUNTIME_POLICY_DENIED: 403,
  RUNTIME_POLICY_INVALID: 500,
  RUNTIME_QUOTA_EXCEEDED: 429,
  RUNTIME_QUOTA_UNAVAILABLE: 503,
  RUNTIME_RECEIPT_UNAVAILABLE: 503,
  RUNTIME_IDENTITY_REFUSED: 401,
  QUOTA_EXCEEDED: 429,
  RUNTIME_TOOL_FAILED: 502,
  RUNTIME_MODEL_FAILED: 502,
  RUNTIME_AGENT_NOT_RUNNING: 409,
  RUNTIME_AGENT_FAILED: 409,
  RUNTIME_AGENT_RESTARTING: 503,
  RUNTIME_AGENT_RUN_FAILED: 422,
  RUNTIME_CLOSED: 503,
  AGENT_NOT_FOUND: 404,
  AGENT_EXISTS: 409,
  AGENT_TRANSITION_INVALID: 409,
  AGENT_ILLEGAL_TRANSITION: 409,
  AGENT_STATE_CONFLICT: 409,
  AGENT_RETIRED: 409,
  AGENT_PARENT_RETIRED: 409,
  AGENT_MANIFEST_INVALID: 400,
  AGENT_ATTRIBUTES_INVALID: 400,
  AGENT_RECORD_INVALID: 500,
  AGENT_TRUST_INVALID: 500,
  APIKEY_SCOPE_INVALID: 400,
  APIKEY_LABEL_INVALID: 400,
  APIKEY_AGENT_INVALID: 400,
  IDENTITY_AGENT_NAME_INVALID: 400,
  CAPABILITY_MANIFEST_INVALID: 400,
  CAPABILITY_MANIFEST_UNREADABLE: 400,
  CAPABILITY_MANIFEST_UNSIGNED: 400,
  CAPABILITY_MANIFEST_SIGNATURE: 400,
  STORE_CONFLICT: 409,
  STORE_UNAVAILABLE: 503,
  VAULT_NO_PARTITION: 404,
  VAULT_DESTROYED: 410,
  VAULT_KEY_INVALID: 400,
  VAULT_STATE_INVALID: 409,
  VAULT_DECRYPT_FAILED: 500,
  LOG_OUT_OF_RANGE: 404,
  LOG_CORRUPT: 503,
  CLUSTER_PEER_UNTRUSTED: 503,
  CREDENTIAL_INVALID: 400,
  CREDENTIAL_UNKNOWN_AGENT: 404,
  CREDENTIAL_DECRYPT_FAILED: 500,
  CREDENTIAL_KEY_INVALID: 500,
  CLUSTER_UNAVAILABLE: 503,
  A2A_AGENT_UNKNOWN: 404,
  CLUSTER_CONFIG_INVALID: 400,
  CLUSTER_CLOSED: 503,
  CLUSTER_MIGRATION_REFUSED: 409,
  CLUSTER_MIGRATION_INVALID: 403,
  CLUSTER_NOT_OWNER: 503,
  CLUSTER_PEER_INVALID: 502,
};

/** The status a code maps to; 500 for a code no request should end with. */
export function statusOf(code: string): HttpStatus {
  return Object.hasOwn(STATUS, code) ? STATUS[code as MappedErrorCode] : 500;
}

export interface HttpFailure {
  readonly status: HttpStatus;
  readonly body: ErrorBody;
  readonly retryAfterSeconds?: number;
}

const INTERNAL_FAILURE: HttpFailure = {
  status: 500,
  body: { error: { code: 'INTERNAL', message: 'internal error; see the gateway log' } },
};

/**
 * `{error: {code, message}}` with the status the code maps to, plus the quota
 * and receipt when there are any. Messages are passed through the log
 * redactor so no secret-shaped text ever leaves in an answer, and masked of
 * `secrets` (the values the gateway's vault handed out) when given; an
 * unexpected error gets a generic message (the detail goes to the log only).
 */
export function toHttpFailure(error: unknown, secrets?: SecretValues): HttpFailure {
  const failure = httpFailureOf(error);
  if (secrets === undefined || secrets.size === 0) return failure;
  // The same answer, each message masked of the live secret values (a config or tool error quoting one).
  const message = secrets.mask(failure.body.error.message);
  return { ...failure, body: { ...failure.body, error: { ...failure.body.error, message } } };
}

function httpFailureOf(error: unknown): HttpFailure {
  if (error instanceof QuotaExceededError) {
    return {
      status: 429,
      body: {
        error: { code: 'QUOTA_EXCEEDED', message: echoText(error.message, ANSWER_MAX), quota: error.quota },
      },
    };
  }
  if (!isOacpError(error)) return INTERNAL_FAILURE;
  const status = statusOf(error.code);
  if (status === 500) return INTERNAL_FAILURE;
  const details = error instanceof RuntimeError ? error.details : {};
  const retryAfterSeconds =
    details.retryAfterMs !== undefined
      ? Math.max(1, Math.ceil(details.retryAfterMs / 1000))
      : // Nothing ran, and the next try may find the agent started or its owner known.
        error.code === 'RUNTIME_AGENT_RESTARTING' ||
          error.code === 'CLUSTER_NOT_OWNER' ||
          error.code === 'CLUSTER_UNAVAILABLE'
        ? 1
        : error.code === 'BODIES_BUSY' || error.code === 'STREAMS_BUSY'
          ? 5
          : undefined;
  return {
    status,
    body: {
      error: {
        code: error.code,
        message: echoText(error.message, ANSWER_MAX),
        ...(details.quota === undefined ? {} : { quota: details.quota }),
        ...(details.receipt === undefined ? {} : { receipt: details.receipt }),
      },
    },
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  };
}

/** A failure as a mount that speaks another protocol (A2A's JSON-RPC) answers it (Mount.refuseRequest). */
export function refusalOf(failure: HttpFailure): HttpRefusal {
  return {
    status: failure.status,
    code: failure.body.error.code,
    message: failure.body.error.message,
    ...(failure.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: failure.retryAfterSeconds }),
  };
}
