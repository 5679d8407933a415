import { ManifestSchema } from '../../capability/manifest.js';
import type { AgentRecord } from './agent-directory.js';
import type { ApiKeyRef, CallChannel, CallerAgent } from './caller.js';
import type { ToolCaller } from './tool-caller.js';

const TOOL_CALL_TARGET = /^\/v1\/tools\/([^/?#]+)\/call(?:\?.*)?$/;

/**
 * A genuine signed request refused as a replay, when it was a tool call
 * (`POST /v1/tools/<name>/call`; a native tool, an MCP server's tool, or a
 * name no tool has): recorded as that call refused at the pipeline's identity
 * step, with its receipt (an MCP tool's by its bridge), so a replay leaves a
 * trace in the log as well as the security event. Anything else is left to
 * the 401.
 */
export async function recordReplayedToolCall(
  tools: ToolCaller,
  replay: {
    readonly agent: AgentRecord;
    readonly method: string;
    readonly target: string;
    readonly body: Uint8Array;
  },
): Promise<void> {
  if (replay.method.toUpperCase() !== 'POST') return;
  const match = TOOL_CALL_TARGET.exec(replay.target);
  if (match?.[1] === undefined) return;
  let tool: string;
  try {
    tool = decodeURIComponent(match[1]);
  } catch {
    return;
  }
  let args: unknown;
  try {
    args = (JSON.parse(Buffer.from(replay.body).toString('utf8')) as { arguments?: unknown } | null)
      ?.arguments;
  } catch {
    args = undefined;
  }
  await recordRefusedToolCall(tools, {
    caller: agentCaller(replay.agent),
    channel: 'signed-request',
    tool,
    arguments: args ?? {},
    reason: 'signed request refused: replayed nonce (this exact request was already accepted once)',
  });
}

/**
 * An authenticated caller's tool call that the HTTP layer refused before the
 * pipeline (a replay; a body that is not a call; a call as another agent; an
 * agent that is not running; an API key without the scope, or bound to
 * another agent): sent through the pipeline only to be refused at its
 * identity step with `reason`, so it has its receipt like every other
 * refusal (an MCP tool's by its bridge). The tool never runs; a failure to
 * record never changes the caller's answer.
 */
export async function recordRefusedToolCall(
  tools: ToolCaller,
  call: {
    readonly caller: CallerAgent;
    readonly channel: CallChannel;
    /** The API key the call came with (its id only: the receipt's `client` names it). */
    readonly apiKey?: ApiKeyRef;
    readonly tool: string;
    readonly arguments: unknown;
    readonly reason: string;
  },
): Promise<void> {
  await tools
    .call({
      tool: call.tool,
      arguments: call.arguments,
      agent: call.caller,
      channel: call.channel,
      ...(call.apiKey === undefined ? {} : { apiKey: call.apiKey }),
      identityRefused: call.reason,
    })
    .catch(() => undefined);
}

/** A registered agent as the caller of a refused call. */
export function agentCaller(agent: AgentRecord): CallerAgent {
  return { did: agent.id, name: agent.name, manifest: agent.manifest, attributes: agent.attributes };
}

/** Grants nothing: a caller known only by its API key has no manifest, and its call is refused anyway. */
const NO_GRANTS = ManifestSchema.parse({
  apiVersion: 'oacp.dev/v1',
  kind: 'CapabilityManifest',
  name: 'api-key',
});

/**
 * The caller of a refused call made with an API key that names no agent here (an operator's key
 * naming none, or one no agent has): the key by its id, `apikey:<id>`, which the receipt records
 * as its `agent.clientId` (never the key itself).
 */
export function apiKeyCaller(keyId: string): CallerAgent {
  const name = `apikey:${keyId}`;
  return { did: name, name, manifest: NO_GRANTS, attributes: {} };
}
