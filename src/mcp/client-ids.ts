import { idKey, type JsonRpcId } from './jsonrpc.js';

/**
 * The client's request ids in flight, each with how many requests carry it. MCP never reuses an
 * id within a session, so a second request under an id still in flight is refused (its answer,
 * progress and cancellation could not say which of the two they mean). Every answer sent under
 * an id releases it once, refusals included, so the duplicate is counted too: refusing it leaves
 * the first request holding its id. Used by a server's session (SessionWire) and by the
 * `--config` front (aggregate-screen.ts).
 *
 * It also counts what is in flight, requests and their bytes as they arrived (when the transport
 * says), so a session can stop reading a client that has too much waiting (SessionWire).
 */
export class ClientIds {
  /** By id, the size of each request carrying it, oldest first. */
  readonly #carried = new Map<string, number[]>();
  #requests = 0;
  #bytes = 0;

  /** Counts one more request under `id`; false when one already was (a duplicate). */
  claim(id: JsonRpcId, bytes = 0): boolean {
    const key = idKey(id);
    const carried = this.#carried.get(key);
    this.#requests += 1;
    this.#bytes += bytes;
    if (carried === undefined) {
      this.#carried.set(key, [bytes]);
      return true;
    }
    carried.push(bytes);
    return false;
  }

  /** One request under `id` is over (answered, or cancelled by the client); true when none is left under it. */
  release(id: JsonRpcId): boolean {
    const key = idKey(id);
    const carried = this.#carried.get(key);
    if (carried === undefined) return true;
    this.#requests -= 1;
    this.#bytes -= carried.shift() ?? 0;
    if (carried.length === 0) this.#carried.delete(key);
    return carried.length === 0;
  }

  /** How many client requests are in flight, and their bytes as they arrived. */
  inFlight(): { readonly requests: number; readonly bytes: number } {
    return { requests: this.#requests, bytes: this.#bytes };
  }

  /**
   * Whether what is in flight has reached MAX_CLIENT_IN_FLIGHT (`full`: no room for another), or
   * gone past it (`over`: the one just counted did not fit).
   */
  atBound(test: 'full' | 'over'): boolean {
    const { requests, bytes } = MAX_CLIENT_IN_FLIGHT;
    return test === 'full'
      ? this.#requests >= requests || this.#bytes >= bytes
      : this.#requests > requests || this.#bytes > bytes;
  }

  /** Whether half of MAX_CLIENT_IN_FLIGHT is left in flight or less: a held client is read again. */
  halfFree(): boolean {
    return (
      this.#requests <= MAX_CLIENT_IN_FLIGHT.requests / 2 && this.#bytes <= MAX_CLIENT_IN_FLIGHT.bytes / 2
    );
  }
}

/**
 * How much of one client's requests a session (or the `--config` front) holds at once, counted
 * from their arrival to their answer: past this the client is not read (stdio), or what it sends
 * is refused (HTTP: `503`, `Retry-After`).
 */
export const MAX_CLIENT_IN_FLIGHT = { requests: 1024, bytes: 64 * 1024 * 1024 } as const;

/** Why a client at MAX_CLIENT_IN_FLIGHT is refused more. */
export const IN_FLIGHT_REFUSAL = `the session has ${MAX_CLIENT_IN_FLIGHT.requests} requests or ${MAX_CLIENT_IN_FLIGHT.bytes / (1024 * 1024)} MiB in flight (the bridge's bound on what one client may have waiting): retry once some are answered`;
