export { type CedarValue, MAX_CEDAR_DEPTH, toCedarArguments, toCedarValue } from './context.js';
export { type PolicyDecision, policyDecision } from './decision.js';
export { PolicyEngine } from './engine.js';
export type { PolicyErrorCode } from './errors.js';
export { MemoryEventSink, type SecurityEvent, type SecurityEventSink } from './events.js';
export { type LoadedPolicies, loadPolicies, loadPolicyFile } from './load.js';
export { type PinObservation, ToolPins } from './pins.js';
export type { ToolCallRequest } from './request.js';
export { OACP_CEDAR_SCHEMA } from './schema.js';
