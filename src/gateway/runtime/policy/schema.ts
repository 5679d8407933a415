/**
 * The Cedar schema of the gateway's global policies (docs/gateway.md, "Global
 * policies"). Agents and tools carry the attributes their owners declare, which
 * a Cedar schema cannot describe as an open record; the loader therefore
 * tolerates exactly "attribute … on entity type Agent/Tool not found" and reads
 * of `context.arguments.…`, and checks everything else (actions, entity types,
 * the declared attributes' types). At evaluation a missing attribute is an
 * error, and an error is a deny.
 */
export const GATEWAY_CEDAR_SCHEMA = `// OACP gateway global policy schema
entity Agent = {
  name: String,
  tier: String,
  attestation_level: Long,
};
entity Tool = {
  server: String,
};
entity Sandbox = {
  tier: String,
  network_hosts: Long,
  tools: Long,
  memory_mb: Long,
};
entity Context = {
  agent: String,
  key: String,
};
entity Host = {
  port: Long,
};
entity Model = {
  provider: String,
};
action "sandbox/start" appliesTo {
  principal: Agent,
  resource: Sandbox,
  context: { running: Long },
};
action "tools/call" appliesTo {
  principal: Agent,
  resource: Tool,
  context: { server: String, signed: Bool, arguments: {} },
};
action "context/read", "context/write" appliesTo {
  principal: Agent,
  resource: Context,
  context: { signed: Bool },
};
action "a2a/message" appliesTo {
  principal: Agent,
  resource: Agent,
  context: { signed: Bool },
};
action "network/fetch" appliesTo {
  principal: Agent,
  resource: Host,
  context: { method: String },
};
action "models/call" appliesTo {
  principal: Agent,
  resource: Model,
  context: {
    model: String,
    provider: String,
    estimated_tokens: Long,
    stream: Bool,
    tools: Set<String>,
    function_tools: Set<String>,
    provider_tools: Set<String>,
  },
};
`;

export const GATEWAY_ACTIONS = [
  'sandbox/start',
  'tools/call',
  'context/read',
  'context/write',
  'network/fetch',
  'models/call',
  'a2a/message',
] as const;
export type GatewayAction = (typeof GATEWAY_ACTIONS)[number];

/** Validator messages that only mean "an open attribute was read"; everything else is fatal. */
export const TOLERATED_VALIDATION = [
  /attribute `[^`]+` on entity type `(Agent|Tool)` not found/,
  /attribute `arguments\.[^`]+` in context for Action::"tools\/call" not found/,
];

/** Permits everything, so a gateway without global policies behaves like the bridge's default. */
export const DEFAULT_GLOBAL_POLICY = `@id("oacp-gateway-default-allow")
permit(principal, action, resource);
`;
