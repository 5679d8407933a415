import type { Dialect } from './dialect.js';
import { ModelsError } from './errors.js';

/** The tools a model request offers: the caller's own functions by name, the provider's by type. */
export interface RequestedTools {
  /** Tools the caller runs (OpenAI `function` and `custom`, Anthropic custom tools): their names. */
  readonly functions: readonly string[];
  /**
   * Tools the provider runs or reaches out with, by type (Anthropic `web_search_20250305`,
   * `web_fetch_20250910`, `code_execution_20250522`, every other typed tool; OpenAI `web_search`,
   * `file_search`, `mcp`, every type but function and custom), plus request fields that turn
   * one on: `web_search_options` (OpenAI) and `mcp_servers` (Anthropic's MCP connector).
   */
  readonly provider: readonly string[];
  /**
   * The most times each provider tool may run, by type: the sum of its entries' `max_uses`
   * (Anthropic), 1 for `web_search_options` (one search per answer); absent when an entry sets no
   * bound, so that a fee per use cannot be reserved.
   */
  readonly maxUses: ReadonlyMap<string, number>;
}

/** A tools entry the gateway cannot tell the kind of: refused, not passed on unjudged. */
export class UnreadableTools extends ModelsError {
  constructor(message: string) {
    super('MODELS_TOOLS_UNREADABLE', message);
    this.name = 'UnreadableTools';
  }
}

const NONE: RequestedTools = { functions: [], provider: [], maxUses: new Map() };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nameOf(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new UnreadableTools(`${where} must be a non-empty string`);
  return value;
}

function entries(body: Readonly<Record<string, unknown>>, field: string): readonly unknown[] {
  const value = body[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new UnreadableTools(`\`${field}\` must be a list`);
  return value;
}

/**
 * Anthropic: a tool without `type` (or `custom`) is the caller's; any other type is Anthropic's own,
 * server tools and Anthropic-defined client tools alike (a new server tool type must not pass as
 * the caller's because the gateway does not know it yet).
 */
function anthropicTools(body: Readonly<Record<string, unknown>>): RequestedTools {
  const functions: string[] = [];
  const uses = new Uses();
  entries(body, 'tools').forEach((tool, i) => {
    if (!isRecord(tool)) throw new UnreadableTools(`tools[${i}] must be an object`);
    if (tool.type === undefined || tool.type === 'custom')
      functions.push(nameOf(tool.name, `tools[${i}].name`));
    else uses.add(nameOf(tool.type, `tools[${i}].type`), tool.max_uses);
  });
  if (body.mcp_servers !== undefined) uses.add('mcp_servers', undefined);
  return { functions, ...uses.done() };
}

/** OpenAI: `function` and `custom` tools (and legacy `functions`) are the caller's; every other type is the provider's. */
function openAiTools(body: Readonly<Record<string, unknown>>): RequestedTools {
  const functions: string[] = [];
  const uses = new Uses();
  entries(body, 'tools').forEach((tool, i) => {
    if (!isRecord(tool)) throw new UnreadableTools(`tools[${i}] must be an object`);
    const type = nameOf(tool.type, `tools[${i}].type`);
    if (type === 'function' || type === 'custom') {
      const spec = tool[type];
      functions.push(nameOf(isRecord(spec) ? spec.name : undefined, `tools[${i}].${type}.name`));
    } else uses.add(type, undefined);
  });
  entries(body, 'functions').forEach((fn, i) => {
    functions.push(nameOf(isRecord(fn) ? fn.name : undefined, `functions[${i}].name`));
  });
  if (body.web_search_options !== undefined) uses.add('web_search_options', 1);
  return { functions, ...uses.done() };
}

/** Provider tools by type, with the bound on their uses while every entry of the type has one. */
class Uses {
  readonly #bounds = new Map<string, number | undefined>();

  add(type: string, maxUses: unknown): void {
    const bound = Number.isSafeInteger(maxUses) && (maxUses as number) > 0 ? (maxUses as number) : undefined;
    const before = this.#bounds.has(type) ? this.#bounds.get(type) : 0;
    this.#bounds.set(type, before === undefined || bound === undefined ? undefined : before + bound);
  }

  /** A map, not an object: the types are the agent's (`__proto__` is one). */
  done(): { provider: string[]; maxUses: Map<string, number> } {
    const maxUses = new Map<string, number>();
    for (const [type, bound] of this.#bounds) if (bound !== undefined) maxUses.set(type, bound);
    return { provider: [...this.#bounds.keys()], maxUses };
  }
}

/** The tools a request in `dialect`'s format offers (embeddings offer none). Throws UnreadableTools. */
export function requestedTools(dialect: Dialect, body: Readonly<Record<string, unknown>>): RequestedTools {
  if (dialect.endpoint === 'embeddings') return NONE;
  const found = dialect.kind === 'anthropic' ? anthropicTools(body) : openAiTools(body);
  return { ...found, functions: [...new Set(found.functions)] };
}
