/** What of a node:http ServerResponse the bound reads and wraps (the core imports no server). */
interface Answer {
  write(...args: never[]): boolean;
  end(...args: never[]): unknown;
  readonly writableLength: number;
  readonly destroyed: boolean;
  destroy(): unknown;
  once(event: 'finish' | 'close', listener: () => void): unknown;
}

/** Bytes of answers a listener holds at once for clients that do not read them, by default. */
export const DEFAULT_MAX_UNREAD_ANSWER_BYTES = 64 * 1024 * 1024;

/**
 * The range a setting of that bound may take (`gateway.max_unread_answer_bytes`,
 * `--max-unread-answer-bytes`): below 1 MiB one answer to a client that reads a little slowly
 * would be cut; above 16 GiB it bounds nothing a host has.
 */
export const MIN_UNREAD_ANSWER_BYTES = 1024 * 1024;
export const MAX_UNREAD_ANSWER_BYTES = 16 * 1024 * 1024 * 1024;

/**
 * Bytes of answers a listener has written that their clients have not read yet, over every
 * connection. Each SSE stream was bounded on its own (MAX_UNREAD_BYTES), and a JSON answer not at
 * all: clients that each asked for a large answer and never read it held all of them, many
 * connections of many megabytes. Past `limit` held together, the answer holding the most unread
 * bytes (the slowest client) is cut, its connection closed, until the rest fit; `onCut` says so.
 * The last answer held is never cut: the bound is on what many clients hold together, and one
 * answer's size is bounded where it is made (`max_body_bytes`, the bridge's line limit). Without
 * that, an answer larger than the bound (a context value stored under a raised `max_body_bytes`,
 * a 64 MiB tool result) was cut even for the only client, reading it.
 * One per listener, never shared through module state.
 */
export class UnreadAnswers {
  readonly #waiting = new Set<Answer>();

  constructor(
    readonly limit: number,
    private readonly onCut: (bytes: number, limit: number) => void = () => undefined,
  ) {}

  /** `res`, each of its writes (and its end) followed by the check. */
  watch<R extends Answer>(res: R): R {
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => unknown;
    res.write = ((...args: unknown[]) => {
      const written = write(...args);
      this.#check(res);
      return written;
    }) as R['write'];
    res.end = ((...args: unknown[]) => {
      end(...args);
      this.#check(res);
      return res;
    }) as R['end'];
    const done = () => this.#waiting.delete(res);
    res.once('finish', done);
    res.once('close', done);
    return res;
  }

  /** What answers not read by their clients hold now (a product figure: tests and metrics read it). */
  get held(): number {
    let held = 0;
    for (const res of this.#waiting) held += res.writableLength;
    return held;
  }

  #check(res: Answer): void {
    if (res.destroyed || res.writableLength === 0) return void this.#waiting.delete(res);
    this.#waiting.add(res);
    let held = this.held;
    while (held > this.limit && this.#waiting.size > 1) {
      let slowest: Answer | undefined;
      for (const waiting of this.#waiting)
        if (slowest === undefined || waiting.writableLength > slowest.writableLength) slowest = waiting;
      if (slowest === undefined) return;
      const bytes = slowest.writableLength;
      this.#waiting.delete(slowest);
      held -= bytes;
      slowest.destroy();
      this.onCut(bytes, this.limit);
    }
  }
}
