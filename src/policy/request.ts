/** The facts a tool call is judged on; see docs/policy.md for how each becomes a Cedar value. */
export interface ToolCallRequest {
  /** The agent's did:key, or the MCP client's id when it presented no key. */
  readonly agent: string;
  /** The tool name as the client called it. */
  readonly tool: string;
  /** The upstream server's name (namespace) in the bridge configuration. */
  readonly server: string;
  readonly arguments?: Readonly<Record<string, unknown>> | undefined;
  /**
   * The Cedar action; `tools/call` when absent. A server-to-client request is
   * judged as `Action::"<its method>"` (sampling/createMessage, roots/list,
   * elicitation/create) on resource `Server::"<server>"`, so a policy can allow
   * a server to sample without allowing it to read the client's roots.
   */
  readonly action?: string;
  /**
   * The Cedar resource of an action other than `tools/call`: a client's
   * `resources/read` or `resources/subscribe` is judged on `Resource::"<uri>"`,
   * its `prompts/get` on `Prompt::"<name>"`, its `completion/complete` on the
   * one its `ref` names. Absent: `Server::"<server>"` (a server's own request).
   */
  readonly resource?: { readonly type: 'Resource' | 'Prompt'; readonly id: string };
}
