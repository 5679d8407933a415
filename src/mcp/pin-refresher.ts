import { PageTrail } from './pages.js';

/**
 * Lists the server's tools so every definition is pinned before it can be
 * called. One listing at a time, plus at most one more for changes announced
 * meanwhile: a server spamming list_changed cannot make the bridge flood it
 * with tools/list. A failed listing is reported, never swallowed.
 */
export class PinRefresher {
  #running: Promise<void> | undefined;
  #again = false;

  constructor(
    private readonly listPage: (cursor: unknown) => Promise<Record<string, unknown>>,
    private readonly failed: (reason: string) => void,
  ) {}

  refresh(): Promise<void> {
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

  /** Settles when the listing under way (if any) has; never rejects. */
  settled(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  async #list(): Promise<void> {
    try {
      const trail = new PageTrail('tools/list');
      let cursor: string | undefined;
      do {
        cursor = trail.next((await this.listPage(cursor)).nextCursor);
      } while (cursor !== undefined);
    } catch (error) {
      // Calls are still checked; tools left unpinned are named as such in their receipts.
      this.failed(error instanceof Error ? error.message : String(error));
    }
  }
}
