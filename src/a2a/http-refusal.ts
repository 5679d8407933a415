import { OACP_JSONRPC_CODES, type OacpJsonRpcReason } from './jsonrpc-errors.js';
import { rpcError } from './jsonrpc-response.js';
import { INVALID_REQUEST, type JsonRpcId, METHOD_NOT_FOUND } from './request-schema.js';

/**
 * A refusal of the embedding server (the gateway) itself, by HTTP status, before or around the
 * JSON-RPC layer: its Host guard, its body limits, a relay to the node that runs the agent.
 * `code` and `message` are the server's own (its error code, its caller-facing words).
 */
export interface HttpRefusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly retryAfterSeconds?: number;
}

const INTERNAL_ERROR = -32603;

/**
 * What a server-side failure says to the caller: its own message may name where it happened (a
 * node's internal URL, an etcd address), so the caller is told only what it can act on.
 */
const UNAVAILABLE =
  'the gateway cannot serve this request now (the agent is between nodes, its node did not answer, or this node is busy or out of the cluster); nothing ran; retry';
const INTERNAL = 'internal error; see the gateway log';

/**
 * The JSON-RPC error answer on an A2A endpoint for a refusal the embedding server made, with the
 * request's id (null when it was not read) and the HTTP status kept (a 503 with its Retry-After),
 * so an A2A client gets an error it can act on (docs/a2a.md, "Errors"): `<REASON>: <server code>:
 * <words>`, 4xx refusals in the server's words, a 502/503/504 as `-32051 OACP_UNAVAILABLE` and any
 * other 5xx as `-32603`, both in fixed words. Redacted and cut as every answer (rpcError).
 */
export function refusalAnswer(id: JsonRpcId, refusal: HttpRefusal): Response {
  const headers: Record<string, string> =
    refusal.retryAfterSeconds === undefined ? {} : { 'retry-after': String(refusal.retryAfterSeconds) };
  return Response.json(rpcError(id, ...codeOf(refusal)), { status: refusal.status, headers });
}

function codeOf({ status, code, message }: HttpRefusal): [number, string] {
  const oacp = (reason: OacpJsonRpcReason, words = message): [number, string] => [
    OACP_JSONRPC_CODES[reason],
    `${reason}: ${code}: ${words}`,
  ];
  if (status === 401 || status === 403) return oacp('OACP_REQUEST_REFUSED');
  if (status === 404) return [METHOD_NOT_FOUND, `${code}: ${message}`];
  if (status === 413) return oacp('OACP_MESSAGE_LIMITS');
  if (status === 429) return oacp('OACP_QUOTA_EXCEEDED');
  if (status === 502 || status === 503 || status === 504) return oacp('OACP_UNAVAILABLE', UNAVAILABLE);
  if (status >= 500) return [INTERNAL_ERROR, INTERNAL];
  return [INVALID_REQUEST, `${code}: ${message}`];
}
