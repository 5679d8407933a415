import { PageTrail } from './pages.js';

/** How the bridge's own tools/list went: every page read, or why not. */
export type ListingOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Lists the server's tools so every definition is pinned, and its argument names kept
 * (listed-arguments.ts), before it can be called. One listing at a time, plus at most one more
 * for changes announced meanwhile: a server spamming list_changed cannot make the bridge flood
 * it with tools/list. A failed listing is reported, never swallowed.
 */
export class PinRefresher {
  #running: Promise<ListingOutcome> | undefined;
  #again = false;

  constructor(
    private readonly listPage: (cursor: unknown) => Promise<Record<string, unknown>>,
    private readonly failed: (reason: string) => void,
    /** Told the names of every tool a whole listing gave (each page read, the last one included). */
    private readonly complete: (tools: ReadonlySet<string>) => void = () => undefined,
  ) {}

  refresh(): Promise<ListingOutcome> {
    if (this.#running !== undefined) {
      this.#again = true;
      return this.#running;
    }
    this.#again = false;
    this.#running = this.#list().finally(() => {
      this.#running = undefined;
      if (this.#again) void this.refresh();
    });
    return this.#running;
  }

  /**
   * A listing for a caller that needs one (a call to a tool not listed yet): the listing under
   * way, and the one queued behind it (a list_changed since it started), else a new one. Shared
   * by every caller waiting meanwhile; never rejects.
   */
  async fresh(): Promise<ListingOutcome> {
    const outcome = await (this.#running ?? this.refresh());
    // Started in the finally of the one awaited: a change was announced while it ran.
    return this.#running === undefined ? outcome : this.#running;
  }

  async #list(): Promise<ListingOutcome> {
    try {
      const trail = new PageTrail('tools/list');
      const tools = new Set<string>();
      let cursor: string | undefined;
      do {
        const page = await this.listPage(cursor);
        for (const tool of Array.isArray(page.tools) ? page.tools : []) {
          const name = (tool as { name?: unknown } | null)?.name;
          if (typeof name === 'string') tools.add(name);
        }
        cursor = trail.next(page.nextCursor);
      } while (cursor !== undefined);
      this.complete(tools);
      return { ok: true };
    } catch (error) {
      // Calls to tools already listed are still checked; tools left unpinned are named as such in their receipts.
      const reason = error instanceof Error ? error.message : String(error);
      this.failed(reason);
      return { ok: false, reason };
    }
  }
}
