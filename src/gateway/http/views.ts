import type { AgentRecord } from '../runtime/agent-directory.js';
import type { AgentRuntime } from '../runtime/agent-runtime.js';
import type { ToolInfo } from '../runtime/tool-registry.js';
import type { AgentView, ToolView } from './api-schemas.js';

export function agentView(agent: AgentRecord, runtime: AgentRuntime): AgentView {
  return {
    id: agent.id,
    name: agent.name,
    state: agent.state,
    runtime: runtime.status(agent.id),
    manifest: agent.manifest,
    attributes: { ...agent.attributes },
    parentId: agent.parentId,
    hasCode: agent.code !== null,
    createdAt: agent.createdAt,
    updatedAt: agent.updatedAt,
  };
}

export function toolView(tool: ToolInfo): ToolView {
  return {
    name: tool.name,
    server: tool.server,
    kind: tool.kind,
    description: tool.description,
    inputSchema: { ...tool.inputSchema },
    attributes: { ...tool.attributes },
    definitionDigest: tool.definitionDigest,
  };
}
