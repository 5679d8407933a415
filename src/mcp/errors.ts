/** Why the MCP bridge could not do something; per-call refusals are tool results, not errors. */
export type McpErrorCode =
  | 'MCP_BAD_OPTIONS'
  | 'MCP_UPSTREAM_START'
  | 'MCP_UPSTREAM_GONE'
  | 'MCP_CONFIG'
  | 'MCP_MANIFEST'
  | 'MCP_HTTP_LISTEN'
  | 'MCP_SERVER_IDENTITY'
  | 'MCP_MESSAGE_REFUSED'
  | 'MCP_LIST_REFUSED'
  | 'MCP_RECEIPT_UNAVAILABLE';
