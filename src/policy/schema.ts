/**
 * The Cedar schema every OACP policy is validated against. `arguments` is
 * declared as an empty record on purpose: Cedar 4 can only describe an open
 * record behind its experimental `partial-validate` feature, which the
 * published wasm build leaves off. The loader therefore tolerates exactly the
 * "attribute `arguments.…` not found" errors and checks the rest; argument
 * accesses are checked when a request is evaluated, where a missing or
 * mistyped argument is an evaluation error and so a deny.
 */
export const OACP_CEDAR_SCHEMA = `// OACP tool-call authorization schema (docs/policy.md)
entity Agent;
entity Tool;
entity Server;
entity Resource;
entity Prompt;
action "tools/call" appliesTo {
  principal: Agent,
  resource: Tool,
  context: {
    server: String,
    arguments: {},
  },
};
// Requests an MCP server sends to the client; the principal is the agent the session serves.
action "sampling/createMessage", "roots/list", "elicitation/create" appliesTo {
  principal: Agent,
  resource: Server,
  context: {
    server: String,
    arguments: {},
  },
};
// Reads a client makes through the server (read-requests.ts): the resource is the URI or the
// prompt it names; \`context.arguments\` holds the request's params (\`_meta\` aside).
action "resources/read", "resources/subscribe" appliesTo {
  principal: Agent,
  resource: Resource,
  context: {
    server: String,
    arguments: {},
  },
};
action "prompts/get" appliesTo {
  principal: Agent,
  resource: Prompt,
  context: {
    server: String,
    arguments: {},
  },
};
action "completion/complete" appliesTo {
  principal: Agent,
  resource: [Prompt, Resource],
  context: {
    server: String,
    arguments: {},
  },
};
`;

/** Matches the validator message we accept for reads under context.arguments. */
export const ARGUMENT_ATTRIBUTE_NOT_FOUND =
  /attribute `arguments\.[^`]+` in context for Action::"[^"]+" not found/;
