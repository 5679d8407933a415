import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultMaxConnections, MAX_CONNECTIONS_CEILING } from '../../../src/core/connection-cap.js';
import { Logger } from '../../../src/gateway/observability/logger.js';
import { createBridge } from '../../../src/mcp/bridge.js';
import { type HttpBridge, serveHttp } from '../../../src/mcp/http.js';
import { lightUpstream, type TestReceipts, testReceipts } from '../../mcp/helpers.js';
import { RAW_SERVER } from '../../mcp/raw-harness.js';
import { useGateway } from '../service/use-gateway.js';

/**
 * A local client opening connections and sending nothing (each may wait 10 s for its headers)
 * took a descriptor each until the process had none: then the gateway's next tool call was
 * refused, its intent journal unopenable. Each listener now holds a bounded number at once and
 * closes the rest as they are accepted, before a byte is read.
 */

/** A connection that has had one answer (so the server holds it) and now sends half a request. */
async function held(url: URL): Promise<Socket> {
  const socket = connect(Number(url.port), url.hostname);
  socket.setEncoding('latin1');
  await new Promise<void>((resolve, reject) => {
    let answer = '';
    socket.on('data', (chunk: string) => {
      answer += chunk;
      if (answer.includes('\r\n\r\n')) resolve();
    });
    socket.once('error', reject);
    socket.write(`GET /healthz HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
  });
  socket.removeAllListeners('data');
  socket.write(`GET /healthz HTTP/1.1\r\n`);
  return socket;
}

/** Opens a connection that sends nothing: true when the server closes it with no byte, false when our 3 s pass first. */
function droppedAtOnce(url: URL): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, 3_000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(bytes === 0);
    });
    socket.on('error', () => undefined);
  });
}

async function healthy(url: URL): Promise<boolean> {
  try {
    return (await fetch(new URL('/healthz', url))).status < 500;
  } catch {
    return false;
  }
}

describe('the default connection cap', () => {
  it('is half the open-file limit, at most the ceiling, and the ceiling when the limit cannot be read', () => {
    const limits = (soft: string) =>
      `Limit                     Soft Limit           Hard Limit           Units     \nMax open files            ${soft}                 524288               files     \n`;
    expect(defaultMaxConnections(limits('1024'))).toBe(512);
    expect(defaultMaxConnections(limits('1048576'))).toBe(MAX_CONNECTIONS_CEILING);
    expect(defaultMaxConnections(limits('unlimited'))).toBe(MAX_CONNECTIONS_CEILING);
    expect(defaultMaxConnections('')).toBe(MAX_CONNECTIONS_CEILING);
  });
});

describe('a flood of idle connections', () => {
  describe('the gateway', () => {
    const lines: string[] = [];
    const gw = useGateway({
      config: { gateway: { max_connections: 4 } },
      logger: new Logger((line) => lines.push(line), 'debug'),
    });

    it('attack: 4 connections held, 6 more opened that send nothing: each is closed at once with no byte, the drop is logged naming gateway.max_connections, and the gateway serves again once the 4 go', async () => {
      const kept = await Promise.all(Array.from({ length: 4 }, () => held(gw.url)));
      const flood = await Promise.all(Array.from({ length: 6 }, () => droppedAtOnce(gw.url)));
      expect(flood).toEqual(Array(6).fill(true));
      const said = lines.find((line) => line.includes('gateway.max_connections'));
      expect(said).toMatch(/"level":"warn"/);
      expect(said).toMatch(/holds 4 at once/);
      for (const socket of kept) socket.destroy();
      const deadline = Date.now() + 10_000;
      while (!(await healthy(gw.url)) && Date.now() < deadline);
      expect(await healthy(gw.url)).toBe(true);
    });
  });

  describe('the MCP bridge (--http)', () => {
    let receipts: TestReceipts;
    let http: HttpBridge;
    const dropping: number[] = [];
    beforeAll(async () => {
      receipts = await testReceipts();
      const bridge = createBridge({ upstream: lightUpstream('raw', [RAW_SERVER]), receipts });
      http = await serveHttp(bridge, {
        host: '127.0.0.1',
        port: 0,
        clientAuth: 'none',
        maxConnections: 4,
        onDropping: (_dropped, max) => dropping.push(max),
      });
    });
    afterAll(async () => {
      await http?.close();
      await receipts?.close();
    });

    it('attack: the same flood at /mcp: closed at once past the cap, and said', async () => {
      const base = new URL('/', http.url);
      const kept = await Promise.all(Array.from({ length: 4 }, () => held(base)));
      const flood = await Promise.all(Array.from({ length: 6 }, () => droppedAtOnce(base)));
      expect(flood).toEqual(Array(6).fill(true));
      expect(dropping).toEqual([4]);
      for (const socket of kept) socket.destroy();
    });
  });
});
