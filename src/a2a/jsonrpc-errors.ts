import { JsonRpcTransportError } from '@a2a-js/sdk/errors';

/**
 * OACP's refusals as JSON-RPC errors, in the implementation-defined server
 * range (-32000..-32099) clear of the codes A2A itself uses (-32001..-32009).
 * The message always says why; the gateway logs the same reason.
 */
export const OACP_JSONRPC_CODES = {
  OACP_SIGNATURE_REQUIRED: -32040,
  OACP_SIGNATURE_INVALID: -32041,
  OACP_REPLAYED: -32042,
  OACP_TRUST_DENIED: -32043,
  OACP_CANCEL_REFUSED: -32044,
  OACP_UNSUPPORTED_PART: -32045,
  /** The message is over the limits (nesting depth) every call is held to. */
  OACP_MESSAGE_LIMITS: -32046,
  /** The node's log cannot take a receipt now: nothing runs that could not be recorded. */
  OACP_RECEIPT_UNAVAILABLE: -32047,
  /** The node's global policies forbid this message. */
  OACP_POLICY_DENIED: -32048,
  /** The receiving agent's quota is used up. */
  OACP_QUOTA_EXCEEDED: -32049,
  /** The embedding server's caller check (A2aServerOptions.user) failed: nothing was done. */
  OACP_CALLER_UNIDENTIFIED: -32050,
  /**
   * The node cannot serve the agent now (between nodes after a migration or a lapsed lease, its
   * node unreachable, this node cut off from the cluster, a hop limit reached): nothing ran; retry.
   */
  OACP_UNAVAILABLE: -32051,
  /** The embedding server refused the HTTP request itself before reading it (a Host header it does not serve). */
  OACP_REQUEST_REFUSED: -32052,
} as const;

export type OacpJsonRpcReason = keyof typeof OACP_JSONRPC_CODES;

export function refusal(reason: OacpJsonRpcReason, message: string): JsonRpcTransportError {
  return new JsonRpcTransportError({
    jsonrpc: '2.0',
    id: null,
    error: { code: OACP_JSONRPC_CODES[reason], message: `${reason}: ${message}` },
  });
}
