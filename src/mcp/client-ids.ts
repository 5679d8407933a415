import { idKey, type JsonRpcId } from './jsonrpc.js';

/**
 * The client's request ids in flight, each with how many requests carry it. MCP never reuses an
 * id within a session, so a second request under an id still in flight is refused (its answer,
 * progress and cancellation could not say which of the two they mean). Every answer sent under
 * an id releases it once, refusals included, so the duplicate is counted too: refusing it leaves
 * the first request holding its id. Used by a server's session (SessionWire) and by the
 * `--config` front (aggregate-screen.ts).
 */
export class ClientIds {
  readonly #carried = new Map<string, number>();

  /** Counts one more request under `id`; false when one already was (a duplicate). */
  claim(id: JsonRpcId): boolean {
    const key = idKey(id);
    const carried = this.#carried.get(key) ?? 0;
    this.#carried.set(key, carried + 1);
    return carried === 0;
  }

  /** One request under `id` is over (answered, or cancelled by the client); true when none is left under it. */
  release(id: JsonRpcId): boolean {
    const key = idKey(id);
    const carried = this.#carried.get(key) ?? 0;
    if (carried <= 1) this.#carried.delete(key);
    else this.#carried.set(key, carried - 1);
    return carried <= 1;
  }
}
