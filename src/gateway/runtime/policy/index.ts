// Global Cedar policies of the gateway.
export { GatewayPolicy, type GatewayRequest, type PolicyEntity } from './gateway-policy.js';
export { type GlobalPolicies, loadGlobalPolicies, loadGlobalPolicyFiles } from './load.js';
export {
  DEFAULT_GLOBAL_POLICY,
  GATEWAY_ACTIONS,
  GATEWAY_CEDAR_SCHEMA,
  type GatewayAction,
} from './schema.js';
