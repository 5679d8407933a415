// oacp.yaml for the gateway: strict schema, loader, MCP server options (docs/gateway-config.md).
export type { ConfigErrorCode } from './errors.js';
export { oacpJsonSchema } from './json-schema.js';
export { loadGatewayConfig, parseGatewayConfig } from './load.js';
export { mcpRunOptionsFor, mcpServersFromFile } from './mcp-options.js';
export { type McpServerConfig, McpServerSchema } from './mcp-section.js';
export {
  agentQuotaDefaults,
  gatewayQuotaOptionsFrom,
  type QuotasSection,
  QuotasSectionSchema,
} from './quotas-section.js';
export { type GatewayConfig, GatewayConfigSchema } from './schema.js';
