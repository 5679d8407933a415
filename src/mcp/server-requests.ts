import type { Decision } from '../core/decision.js';
import type { PolicyEngine } from '../policy/engine.js';
import { CLIENT_ONLY_REQUESTS } from './method-names.js';
import type { CallChecks } from './record.js';

/** Server-to-client methods that are protocol plumbing, not a server acting on the client: never policed. */
const PLUMBING = new Set(['ping']);

/**
 * Requests MCP defines only from client to server. A server that sends one to the client is not
 * asking anything a policy speaks of: `tools/call` from the server would otherwise be judged as
 * `Action::"tools/call"`, the client's own tool calls, and pass wherever those are permitted.
 */
const CLIENT_ONLY: ReadonlySet<string> = new Set(CLIENT_ONLY_REQUESTS);

/** Receipts of server-to-client requests name the method under this prefix in `tool.name`. */
export { SERVER_REQUEST_PREFIX } from './recorded-requests.js';

export interface ServerRequestVerdict {
  readonly decision: Decision;
  readonly checks: CallChecks;
  /** False for plumbing (ping): forwarded without a receipt. */
  readonly recorded: boolean;
}

/**
 * A request the server sends to the client (sampling/createMessage,
 * roots/list, elicitation/create, …) is the server acting on the client's
 * behalf: it is judged by the Cedar policy as `Action::"<method>"` on
 * `Server::"<server>"` with the session's agent as principal, and recorded.
 * Without a policy nothing is permitted (deny by default); an error inside the
 * check is a deny. A method MCP defines only from client to server is refused
 * before any policy.
 */
export function decideServerRequest(
  policyOf: () => PolicyEngine | undefined,
  request: { readonly agent: string; readonly server: string; readonly method: string },
): ServerRequestVerdict {
  if (PLUMBING.has(request.method)) {
    return { decision: { effect: 'allow', reason: 'protocol ping' }, checks: {}, recorded: false };
  }
  if (CLIENT_ONLY.has(request.method)) {
    const reason = `${request.method} is a request only a client sends; a server may not send it to the client`;
    return {
      decision: { effect: 'deny', reason },
      checks: { shape: { effect: 'deny', reason } },
      recorded: true,
    };
  }
  try {
    // Read inside the check: a policy that cannot be built (or read) is a deny, never a crash.
    const policy = policyOf();
    if (policy === undefined) {
      const decision: Decision = { effect: 'deny', reason: 'no policy permits server-to-client requests' };
      return { decision, checks: {}, recorded: true };
    }
    const verdict = policy.authorize({
      agent: request.agent,
      tool: request.method,
      server: request.server,
      action: request.method,
    });
    return {
      decision: { effect: verdict.effect, reason: verdict.reason },
      checks: {
        policy: {
          effect: verdict.effect,
          reason: verdict.reason,
          policyIds: verdict.policyIds,
          policyDigest: verdict.policyDigest,
        },
      },
      recorded: true,
    };
  } catch (error) {
    const reason = `check failed: ${error instanceof Error ? error.message : String(error)}`;
    return { decision: { effect: 'deny', reason }, checks: {}, recorded: true };
  }
}
