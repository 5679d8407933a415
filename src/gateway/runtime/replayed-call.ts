import type { AgentRecord } from './agent-directory.js';
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
    agent: replay.agent,
    tool,
    arguments: args ?? {},
    reason: 'signed request refused: replayed nonce (this exact request was already accepted once)',
  });
}

/**
 * An authenticated agent's tool call that the HTTP layer refused before the
 * pipeline (a replay; a body that is not a call; a call as another agent; an
 * agent that is not running): sent through the pipeline only to be refused at
 * its identity step with `reason`, so it has its receipt like every other
 * refusal (an MCP tool's by its bridge). The tool never runs; a failure to
 * record never changes the caller's answer.
 */
export async function recordRefusedToolCall(
  tools: ToolCaller,
  call: {
    readonly agent: AgentRecord;
    readonly tool: string;
    readonly arguments: unknown;
    readonly reason: string;
  },
): Promise<void> {
  const { agent } = call;
  await tools
    .call({
      tool: call.tool,
      arguments: call.arguments,
      agent: { did: agent.id, name: agent.name, manifest: agent.manifest, attributes: agent.attributes },
      channel: 'signed-request',
      identityRefused: call.reason,
    })
    .catch(() => undefined);
}
