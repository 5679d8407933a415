import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliHttpBridge, startCliHttpBridge } from './cli-http-bridge.js';

/**
 * `oacp mcp run --http --max-connections N`: idle connections from any local client took every
 * descriptor the bridge had (test/gateway/http/connection-cap.test.ts is the listener's own
 * test); the flag sets the cap on the command line, and the bridge says when it drops some,
 * naming the flag, at most once a minute.
 */
function open(url: URL): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves 'closed' when the server closes the connection within `ms`, else 'open'. */
function closedWithin(socket: Socket, ms: number): Promise<'closed' | 'open'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('open'), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
  });
}

describe('oacp mcp run --http --max-connections', () => {
  const bridges: CliHttpBridge[] = [];
  const sockets: Socket[] = [];
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    for (const bridge of bridges) await bridge.close();
  });

  it('attack: idle connections past --max-connections are closed as they are accepted, and the bridge names the flag', async () => {
    const bridge = await startCliHttpBridge('oacp-http-maxconn-', ['--max-connections', '2']);
    bridges.push(bridge);
    const held = [await open(bridge.url), await open(bridge.url)];
    sockets.push(...held);
    const extra = await open(bridge.url);
    sockets.push(extra);
    expect(await closedWithin(extra, 5_000)).toBe('closed');
    const line = await bridge.waitFor(
      /oacp: (\d+) connection\(s\) closed .*holds 2 at once \(--max-connections\)/,
    );
    expect(Number(line[1])).toBeGreaterThanOrEqual(1);
    // The two within the cap are still served: one is closed by us, then a new one gets in.
    for (const socket of held) expect(socket.destroyed).toBe(false);
    held[0]?.destroy();
    // The slot is free once the bridge has seen that close, later on a loaded host than a fixed wait
    // allowed; a cap that never gives it back still refuses every try.
    let admitted: 'closed' | 'open' = 'closed';
    for (let tries = 0; tries < 40 && admitted === 'closed'; tries++) {
      if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 250));
      const next = await open(bridge.url);
      sockets.push(next);
      admitted = await closedWithin(next, 1_000);
    }
    expect(admitted).toBe('open');
  });
});
