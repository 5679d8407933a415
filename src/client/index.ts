// `oacp/client`: the typed SDK of the gateway's HTTP API (docs/client.md). Any export here is public API.
export type {
  AgentView,
  CallToolRequest,
  CreateAgentRequest,
  ErrorBody,
  QuotaUsageView,
  ReceiptLinkBody,
  ReceiptResponse,
  RunAgentRequest,
  RunResponse,
  ToolCallResponse,
  ToolView,
  Transition,
} from '../gateway/http/api-schemas.js';
export type { OfflineVerification } from '../verify/offline-verifier.js';
export { OacpClient, type OacpClientOptions, type VerifyOptions } from './client.js';
export { OacpApiError } from './errors.js';
