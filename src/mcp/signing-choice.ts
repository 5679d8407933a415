import { availableParallelism } from 'node:os';

/**
 * Signing workers `oacp mcp run` starts: one where the host has a core for it beside the event
 * loop, the server and the log's fs threads (3 or more), none on 1 or 2 cores. On this 2-core
 * machine the hand-off to a worker (postMessage) cost the event loop about what the signature it
 * saves does: signing on the event loop answered 1.16x (h62, 5 alternating pairs, load 5-6) and
 * 1.20x (the quiet bench run of round 8) the calls per second at 16 in flight.
 */
export function bridgeSigningWorkers(cores: number = availableParallelism()): number {
  return cores >= 3 ? 1 : 0;
}
