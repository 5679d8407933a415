import { clipText } from '../core/clip-text.js';
import { imitatedMemberName, imitatedNameReason } from '../core/twin-names.js';

/** Tools of one server whose listed argument names the bridge keeps (the oldest listed go first). */
export const MAX_LISTED_TOOLS = 4096;
/** Property names kept per tool, at every depth together; a schema naming more is not kept whole. */
export const MAX_LISTED_NAMES = 2048;
/** How deep into nested object schemas the names are kept. */
export const MAX_LISTED_DEPTH = 16;

/** The property names an object schema lists, each with the names its own value's schema lists. */
export interface ArgumentNames {
  readonly names: ReadonlyMap<string, ArgumentNames | undefined>;
  /** The schema of the elements, when this value is an array. */
  readonly items?: ArgumentNames;
}

/**
 * What a tools/list said of one tool's arguments: its names, or why its calls cannot be checked
 * against them (too many to keep; the tool not in the bridge's own listing, or that listing failed).
 */
export type ListedTool =
  | { readonly ok: true; readonly names: ArgumentNames }
  | { readonly ok: false; readonly reason: string };

const TOO_MANY_NAMES = `the tool's listed inputSchema names more than ${MAX_LISTED_NAMES} properties (the bridge's bound): its argument names cannot be checked against it, so the call is refused`;

/**
 * The property names of each tool's `inputSchema` as its server listed them (tools/list, the
 * client's or the bridge's own), so a call's argument names can be checked against them: Go's
 * encoding/json, behind many MCP servers, decodes `PATH` into the field `path`, so a lone `PATH`
 * passes a policy on `context.arguments.path` (absent) and is read by the server as `path`.
 * Bounded: MAX_LISTED_TOOLS tools, MAX_LISTED_NAMES names and MAX_LISTED_DEPTH levels each.
 */
export class ListedArguments {
  readonly #tools = new Map<string, ListedTool>();

  /** One tool definition from a tools/list result. */
  observe(tool: string, inputSchema: unknown): void {
    this.#tools.delete(tool);
    const budget = { left: MAX_LISTED_NAMES };
    const names = namesOf(inputSchema, 0, budget);
    this.#tools.set(tool, budget.left < 0 ? { ok: false, reason: TOO_MANY_NAMES } : { ok: true, names });
    if (this.#tools.size > MAX_LISTED_TOOLS) {
      const oldest = this.#tools.keys().next().value;
      if (oldest !== undefined) this.#tools.delete(oldest);
    }
  }

  /**
   * After a whole listing (the bridge's own, every page): the tools it did not name are forgotten,
   * so a tool the server stopped listing (list_changed) is listed again before it is called.
   */
  retain(listed: ReadonlySet<string>): void {
    for (const tool of [...this.#tools.keys()]) if (!listed.has(tool)) this.#tools.delete(tool);
  }

  /** What the server listed for `tool`; undefined when it was never listed (or no longer kept). */
  of(tool: string): ListedTool | undefined {
    return this.#tools.get(tool);
  }
}

/**
 * Why `args` could read otherwise to a server matching names loosely, given what its tool's
 * listing said: a member name that is not one the schema lists at that place but reads as one
 * (imitatedMemberName), at any depth the schema describes; undefined when none.
 */
export function imitatedArgument(
  args: Readonly<Record<string, unknown>>,
  listed: ListedTool,
): string | undefined {
  if (!listed.ok) return listed.reason;
  const stack: Array<{ value: unknown; names: ArgumentNames; path: string }> = [
    { value: args, names: listed.names, path: 'arguments' },
  ];
  while (stack.length > 0) {
    const { value, names, path } = stack.pop() as { value: unknown; names: ArgumentNames; path: string };
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      if (names.items !== undefined)
        for (const [index, element] of value.entries())
          stack.push({ value: element, names: names.items, path: `${path}[${index}]` });
      continue;
    }
    const record = value as Readonly<Record<string, unknown>>;
    const imitated = imitatedMemberName(record, [...names.names.keys()]);
    if (imitated !== undefined) {
      return `${imitatedNameReason(clipText(path, 200), imitated)}; the tool's listed inputSchema names ${JSON.stringify(clipText(imitated[1], 64))} there, and the policy judged the call without it`;
    }
    for (const [name, child] of names.names) {
      if (child !== undefined && Object.hasOwn(record, name))
        stack.push({ value: record[name], names: child, path: `${path}.${name}` });
    }
  }
  return undefined;
}

/** The names a JSON Schema lists for an object (or, through `items`, its elements); budget-bounded. */
function namesOf(schema: unknown, depth: number, budget: { left: number }): ArgumentNames {
  const names = new Map<string, ArgumentNames | undefined>();
  let items: ArgumentNames | undefined;
  if (depth >= MAX_LISTED_DEPTH || !isRecord(schema)) return { names };
  // allOf/anyOf/oneOf: whichever branch applies, its names are the tool's names here.
  const branches = [schema, ...['allOf', 'anyOf', 'oneOf'].flatMap((key) => listOf(schema[key]))];
  for (const branch of branches) {
    if (!isRecord(branch)) continue;
    if (isRecord(branch.properties)) {
      for (const [name, child] of Object.entries(branch.properties)) {
        budget.left -= 1;
        if (budget.left < 0) return { names };
        const nested = namesOf(child, depth + 1, budget);
        const kept = names.get(name);
        names.set(name, nested.names.size > 0 || nested.items !== undefined ? nested : kept);
      }
    }
    if (branch !== schema) continue;
    const element = isRecord(branch.items) ? branch.items : undefined;
    if (element !== undefined) {
      const nested = namesOf(element, depth + 1, budget);
      if (nested.names.size > 0 || nested.items !== undefined) items = nested;
    }
  }
  return items === undefined ? { names } : { names, items };
}

function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
