/**
 * The one rule for naming a tool (or prompt) of one of several servers behind
 * one endpoint: `<server>__<tool>`, in the bridge's `--config` front and the
 * gateway alike, and so in receipts, quota keys, Cedar resource ids and
 * capability globs. The MCP spec (2025-11-25, SEP-986) also allows `.` and `/`
 * in tool names, but the model APIs most clients pass them to accept only
 * ^[a-zA-Z0-9_-]{1,64}$ (Anthropic, OpenAI), so the separator is `__` and a
 * server name is letters, digits, `_` and `-` without `__`.
 */
export const TOOL_NAME_SEPARATOR = '__';

/**
 * Server names under the rule: 1-64 letters, digits, `_`, `-`, starting alphanumeric, not ending
 * in `_`, no `__`. With a trailing `_` one name would stand for two tools: tool `_x` of server `a`
 * and tool `x` of server `a_` are both `a___x` (routed to the first, and one Cedar resource id).
 */
export const SERVER_NAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9-])?$/;

/** Why `name` cannot name a server whose tools are namespaced; undefined when it can. */
export function serverNameProblem(name: string): string | undefined {
  if (name.includes(TOOL_NAME_SEPARATOR))
    return `must not contain "${TOOL_NAME_SEPARATOR}" (it separates server and tool names)`;
  if (name.endsWith('_'))
    return `must not end with "_" (tool "_x" of a server "${name.slice(0, -1)}" and tool "x" of "${name}" would both be ${qualifiedToolName(name, 'x')})`;
  if (!SERVER_NAME_PATTERN.test(name)) {
    return name.includes('.')
      ? 'must not contain "." (tools are named <server>__<tool>, and clients accept only letters, digits, _ and -): rename it, e.g. with "-"'
      : 'must be 1-64 letters, digits, _ or - (starting alphanumeric)';
  }
  return undefined;
}

/** `<server>__<tool>`. */
export function qualifiedToolName(server: string, tool: string): string {
  return `${server}${TOOL_NAME_SEPARATOR}${tool}`;
}

/** The server and tool of a qualified name (split at the first `__`); undefined without one. */
export function splitToolName(qualified: string): { server: string; tool: string } | undefined {
  const at = qualified.indexOf(TOOL_NAME_SEPARATOR);
  if (at <= 0) return undefined;
  return { server: qualified.slice(0, at), tool: qualified.slice(at + TOOL_NAME_SEPARATOR.length) };
}

/**
 * For a name written in the old gateway form `<server>.<tool>` (or a glob
 * `<server>.*`) where `<server>` is one of `servers`: the same name in the
 * current form, to name in a one-line error. Undefined for anything else.
 */
export function oldFormToolName(name: string, servers: Iterable<string>): string | undefined {
  for (const server of servers) {
    if (name.startsWith(`${server}.`) && name.length > server.length + 1) {
      return qualifiedToolName(server, name.slice(server.length + 1));
    }
  }
  return undefined;
}
