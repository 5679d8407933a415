import type { Readable, Writable } from 'node:stream';
import type { Bridge, ServedSession } from './bridge.js';
import { clientControl } from './held-control.js';
import { LineTransport } from './line-transport.js';

/**
 * Serves one client over stdio (the process's own by default): the usual way an MCP host starts a
 * server. While the client is held (SessionWire), its cancellations and answers are still read.
 */
export function serveStdio(
  bridge: Bridge,
  input: Readable = process.stdin,
  output: Writable = process.stdout,
): Promise<ServedSession> {
  return bridge.serve(new LineTransport(input, output, { control: clientControl }));
}
