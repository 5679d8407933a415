// Public face of the egress proxy.
export { EgressAudit, type EgressEvent } from './audit.js';
export { checkEgress, type GateResult, type RequestLimiter } from './gate.js';
export { EgressProxy, type EgressProxyOptions } from './proxy.js';
export { type Resolver, systemResolver } from './resolver.js';
export { type Destination, type EgressRules, proxyRules } from './rules.js';
