import { randomUUID } from 'node:crypto';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { RefusalReceiptLimits } from '../airlock/quota/refusal-limit.js';
import type { Decision } from '../core/decision.js';
import { sha256Hex } from '../core/digest.js';
import { jcsDigest } from '../core/jcs.js';
import { decideCall } from './call-pipeline.js';
import { type ActiveCall, callRecorder, denialResult, RECEIPT_META } from './call-recorder.js';
import { boundedClientName } from './client-view.js';
import { INVALID_REQUEST } from './jsonrpc.js';
import { DEFAULT_MESSAGE_LIMITS } from './message-limits.js';
import type { PolicedRead } from './read-requests.js';
import type { ReceiptSink } from './record.js';
import {
  type BridgeRefusalLimiter,
  MCP_SUPPRESSED_REFUSALS,
  type RefusedSubject,
  suppressedRecord,
  UNAUTHENTICATED,
} from './refusal-receipts.js';
import type { ServerIdentity } from './server-identity.js';

/** Where the multi-server front records a call it could route to no server. */
export interface UnroutedRefusals {
  readonly receipts: ReceiptSink;
  /** The fixed agent of the run (`--agent`), else the client as it named itself. */
  readonly agent?: string;
  /**
   * Told when one of the front's own receipts could not be written, as a server's session
   * tells its `onEvent` (`oacp mcp run` prints it): the client is answered with an error then.
   */
  readonly onReceiptFailed?: (callId: string, reason: string) => void;
  /** `--refusal-receipts`: the front's refused client messages receipted one by one (refusal-receipts.ts). */
  readonly refusalReceipts?: RefusalReceiptLimits;
}

/** The front's refusals of one client session: its limiter, and the session it counts under. */
export interface SessionRefusals extends UnroutedRefusals {
  readonly limiter?: { readonly refusals: BridgeRefusalLimiter; readonly session: string };
}

/**
 * Whether a client message the front refused gets its own receipt: past the limits it is
 * answered the same less its receipt, and counted in the front's summary receipt.
 */
export function receiptedRefusal(refusals: SessionRefusals): boolean {
  const limiter = refusals.limiter;
  if (limiter === undefined) return true;
  const subject: RefusedSubject = {
    name: NO_SERVER.name,
    record: async (summary) => {
      const { reason, arguments: args } = suppressedRecord(summary);
      const call: ActiveCall = {
        ...unroutedCall(MCP_SUPPRESSED_REFUSALS, args, refusals.agent ?? UNAUTHENTICATED, FRONT_CLIENT),
        decision: { effect: 'deny', reason },
        checks: { shape: { effect: 'deny', reason } },
      };
      await recordRefusal(refusals, call);
    },
  };
  return limiter.refusals.admit(subject, limiter.session);
}

/** The client a summary of several sessions' refusals names: none of them. */
const FRONT_CLIENT = { name: 'oacp-mcp-front', version: '0' };

/** The answer to a call the front refused but could not record: as a server's session answers it. */
export function unrecordedDenial(reason: string): Error {
  return new Error(`call denied (${reason}); its receipt could not be written`);
}

/** Writes one of the front's refusals; undefined (and a report) when the log would not take it. */
async function recordRefusal(
  refusals: UnroutedRefusals,
  call: ActiveCall,
): Promise<Record<string, unknown> | undefined> {
  try {
    return { ...(await callRecorder(refusals.receipts).finish({ call, outcome: 'denied' }, undefined)) };
  } catch (error) {
    refusals.onReceiptFailed?.(call.callId, error instanceof Error ? error.message : String(error));
    return undefined;
  }
}

/** How a call that named no configured server is attributed in its receipt. */
const NO_SERVER: ServerIdentity = { name: 'unknown', command: 'oacp-mcp-front', args: ['unrouted-call'] };

/**
 * A tools/call whose name routes to no configured server (`--config` with
 * several servers): refused by the one pipeline (decideCall) at its
 * tools-list step, after the shape, limits and receipt-slot checks, and
 * recorded like every refusal. The answer is the denial the client reads
 * (an MCP tool error with its receipt); an error when no receipt could be
 * written (and `onReceiptFailed` told), so no refusal goes unrecorded silently.
 */
export async function refuseUnrouted(
  refusals: UnroutedRefusals,
  params: Readonly<Record<string, unknown>>,
  reason: string,
  client: { readonly name: string; readonly version: string },
): Promise<Record<string, unknown>> {
  const { decision, receipt } = await recordUnrouted(refusals, 'tools/call', params, reason, client);
  return denialResult(decision.reason, receipt);
}

/**
 * A policed read (resources/read, prompts/get, …) that routes to no configured server: refused
 * by the same pipeline as an unrouted call, and recorded. Rejects with the MCP error the client
 * reads (`-32600`, the receipt in `data`), as a bridge's refusal of a read would be; with the
 * front's unrecorded-denial error when no receipt could be written.
 */
export async function refuseUnroutedRead(
  refusals: UnroutedRefusals,
  method: PolicedRead,
  params: unknown,
  reason: string,
  client: { readonly name: string; readonly version: string },
): Promise<never> {
  const { decision, receipt } = await recordUnrouted(refusals, method, params, reason, client);
  throw new McpError(INVALID_REQUEST, `OACP refused ${method}: ${decision.reason}`, {
    [RECEIPT_META]: receipt,
  });
}

async function recordUnrouted(
  refusals: UnroutedRefusals,
  method: 'tools/call' | PolicedRead,
  params: unknown,
  reason: string,
  client: { readonly name: string; readonly version: string },
): Promise<{ readonly decision: Decision; readonly receipt: Record<string, unknown> }> {
  const agent = refusals.agent ?? `client:${boundedClientName(String(client.name))}`;
  const callId = randomUUID();
  const startedAt = new Date();
  const startedMs = performance.now();
  const verdict = await decideCall(params, {
    limits: DEFAULT_MESSAGE_LIMITS,
    reserve: () => {
      callRecorder(refusals.receipts).reserve();
      return undefined;
    },
    // Refused whoever calls: a signature in `_meta` is for the server it names, left unspent.
    identify: () => ({
      ok: true,
      id: agent,
      verified: refusals.agent !== undefined,
      ownBucket: refusals.agent !== undefined,
    }),
    gate: {},
    callId,
    method,
    server: NO_SERVER.name,
    channels: {},
    prior: { tools: { effect: 'deny', reason } },
  });
  const call: ActiveCall = {
    ...unroutedCall(verdict.tool, verdict.arguments, agent, client),
    callId,
    decision: verdict.decision,
    checks: verdict.checks,
    startedAt,
    startedMs,
  };
  const receipt = await recordRefusal(refusals, call);
  if (receipt === undefined) throw unrecordedDenial(verdict.decision.reason);
  return { decision: verdict.decision, receipt };
}

/**
 * A client message the front refused before it could be parsed whole (a line
 * over the size cap, a number JSON cannot carry), whose method could be read:
 * recorded as the single-server bridge records it (`client-request:<method>`,
 * its arguments the digest of the bytes: docs/receipts.md), attributed to no
 * server since none was chosen. The receipt, or undefined (and `onReceiptFailed`
 * told) when none could be written, or none was (past the refusal receipt limits:
 * counted); the client is answered either way.
 */
export async function refuseUnreadMessage(
  refusals: SessionRefusals,
  name: string,
  params: Readonly<Record<string, unknown>>,
  reason: string,
  client: { readonly name: string; readonly version: string },
): Promise<Record<string, unknown> | undefined> {
  if (!receiptedRefusal(refusals)) return undefined;
  const agent = refusals.agent ?? `client:${boundedClientName(String(client.name))}`;
  const call: ActiveCall = {
    ...unroutedCall(name, params, agent, client),
    decision: { effect: 'deny', reason },
    checks: { shape: { effect: 'deny', reason } },
  };
  return recordRefusal(refusals, call);
}

function unroutedCall(
  tool: string,
  args: unknown,
  agent: string,
  client: { readonly name: string; readonly version: string },
): ActiveCall {
  return {
    callId: randomUUID(),
    agent,
    client,
    server: NO_SERVER,
    tier: 'none',
    tool,
    upstreamTool: tool,
    toolDefinitionDigest: jcsDigest({ name: tool }),
    policyDigest: sha256Hex(''),
    arguments: args,
    decision: { effect: 'deny', reason: 'not yet decided' },
    checks: {},
    startedAt: new Date(),
    startedMs: performance.now(),
  };
}
