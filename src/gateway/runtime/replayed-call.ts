import { ManifestSchema } from '../../capability/manifest.js';
import type { AgentRecord } from './agent-directory.js';
import type { ApiKeyRef, CallChannel, CallerAgent } from './caller.js';
import type { ToolCaller } from './tool-caller.js';

const TOOL_CALL_TARGET = /^\/v1\/tools\/([^/?#]+)\/call(?:\?.*)?$/;

/**
 * The tool a request names when it is a tool call (`POST /v1/tools/<name>/call`;
 * a native tool, an MCP server's tool, or a name no tool has), else undefined.
 */
export function toolCallTarget(method: string, target: string): string | undefined {
  if (method.toUpperCase() !== 'POST') return undefined;
  const match = TOOL_CALL_TARGET.exec(target);
  if (match?.[1] === undefined) return undefined;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
}

/** A tool call body's `arguments` (`{}` when it names none or is not JSON). */
export function toolCallArguments(body: Uint8Array): unknown {
  try {
    const parsed = JSON.parse(Buffer.from(body).toString('utf8')) as { arguments?: unknown } | null;
    return parsed?.arguments ?? {};
  } catch {
    return {};
  }
}

/**
 * A tool call that the HTTP layer refused before the pipeline (by
 * authentication: see unauthenticated-call.ts; or, for an authenticated
 * caller, a body that is not a call, a call as another agent, an agent that
 * is not running, an API key without the scope or bound to another agent): sent through the pipeline only to be refused at its
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

/** Grants nothing: a caller known only by a key id or a claim has no manifest, and its call is refused anyway. */
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
  return noGrantsCaller(name, name);
}

/**
 * A caller no agent here is, recorded as `recordedAs` (the receipt's agent), granted nothing; its
 * metrics name is `name` (a caller's own text never becomes a metrics label).
 */
export function noGrantsCaller(recordedAs: string, name: string): CallerAgent {
  return { did: recordedAs, name, manifest: NO_GRANTS, attributes: {} };
}
