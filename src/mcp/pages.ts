import { OacpError } from '../core/errors.js';
import type { McpErrorCode } from './errors.js';
import { DEFAULT_MAX_LINE_BYTES } from './line-transport.js';

/** At most this many pages of one list are followed: more is a server that never stops paging. */
export const MAX_PAGES = 1000;

/** The pages of one list are answered as one message, so together they may hold no more than one may. */
export const MAX_LIST_BYTES = DEFAULT_MAX_LINE_BYTES;

/**
 * The cursors of one listing, followed page by page: a cursor that comes back (a loop) or a
 * listing past MAX_PAGES is refused, saying which list, rather than followed until a bound and
 * answered as if complete.
 */
export class PageTrail {
  readonly #what: string;
  readonly #seen = new Set<string>();

  constructor(what: string) {
    this.#what = what;
  }

  get pages(): number {
    return this.#seen.size + 1;
  }

  /** The cursor to ask for next, or undefined when the list is done. */
  next(cursor: unknown): string | undefined {
    if (typeof cursor !== 'string') return undefined;
    if (this.#seen.has(cursor))
      throw refused(
        `${this.#what} pages in a loop: the cursor ${JSON.stringify(cursor.slice(0, 80))} came back after ${this.pages} pages`,
      );
    if (this.#seen.size + 1 >= MAX_PAGES) throw refused(`${this.#what} goes on past ${MAX_PAGES} pages`);
    this.#seen.add(cursor);
    return cursor;
  }
}

/**
 * Collects every page of an MCP list method (tools, resources, prompts, …), following
 * `nextCursor` (PageTrail), up to MAX_LIST_BYTES of items in all. `what` names the list in
 * the refusal (`tools/list of "github"`).
 */
export async function allPages<K extends string>(
  list: (params: { cursor: string } | undefined) => Promise<unknown>,
  key: K,
  what: string = key,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  const trail = new PageTrail(what);
  let bytes = 0;
  let cursor: string | undefined;
  do {
    const result = (await list(cursor === undefined ? undefined : { cursor })) as {
      [k in K]?: Record<string, unknown>[];
    } & { nextCursor?: string };
    const page = result[key] ?? [];
    bytes += JSON.stringify(page).length;
    if (bytes > MAX_LIST_BYTES)
      throw refused(`${what} is over ${MAX_LIST_BYTES} bytes after ${trail.pages} pages`);
    // One by one: a page of a few hundred thousand items spread into push() overflows the stack.
    for (const item of page) items.push(item);
    cursor = trail.next(result.nextCursor);
  } while (cursor !== undefined);
  return items;
}

function refused(reason: string): OacpError<McpErrorCode> {
  return new OacpError<McpErrorCode>('MCP_LIST_REFUSED', `the server's ${reason}`);
}
