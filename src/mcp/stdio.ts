import type { Readable, Writable } from 'node:stream';
import type { Bridge, ServedSession } from './bridge.js';
import { clientControl } from './held-control.js';
import { LineTransport } from './line-transport.js';

/**
 * Serves one client over stdio (the process's own by default): the usual way an MCP host starts a
 * server. While the client is held (SessionWire), its cancellations and answers are still read.
 */
export async function serveStdio(
  bridge: Bridge,
  input: Readable = process.stdin,
  output: Writable = process.stdout,
): Promise<ServedSession> {
  const served = await bridge.serve(new LineTransport(input, output, { control: clientControl }));
  // Once the session is over nothing more is read: an input left flowing (stdin, its client still
  // writing though it closed the bridge's stdout) would keep the process alive after the session.
  void served.closed.then(() => input.pause());
  return served;
}
