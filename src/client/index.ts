// `oacp/client`: the typed SDK of the gateway's HTTP API (docs/client.md). Any export here is public API.

// A2A with attestation: call an agent, checking its signed card, the receipts on its results and the trust level.
export {
  type A2aCallOptions,
  type A2aCallResult,
  type A2aConnection,
  type A2aConnectOptions,
  type A2aSendOptions,
  type CardCheck,
  callA2aAgent,
  checkAgentCard,
  connectA2aAgent,
  fetchAgentCard,
} from '../a2a/index.js';
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
export {
  OacpClient,
  type OacpClientOptions,
  type ReceiptEntry,
  type ReceiptFilter,
  type ReceiptPage,
  type VerifyOptions,
} from './client.js';
export { OacpApiError } from './errors.js';
