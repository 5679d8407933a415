import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshHome } from '../service/node-home.js';
import { useGateway } from '../service/use-gateway.js';

const REPO = join(import.meta.dirname, '..', '..', '..');
const VITE_NODE = join(REPO, 'node_modules', 'vite-node', 'vite-node.mjs');
const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'page', version: '0' } },
});
/** Origins a page of another site (or a sandboxed one) sends. */
const FOREIGN_ORIGINS = [
  'https://evil.example',
  'http://evil.example:80',
  'null',
  'http://127.0.0.2.evil.example',
];
const MEMORY = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-memory/dist/index.js');

/** A request with a Host header of our choosing (fetch would not let us set one). */
function withHost(
  url: URL,
  path: string,
  host: string | undefined,
  extra: { origin?: string; post?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (host !== undefined) headers.host = host;
    if (extra.origin !== undefined) headers.origin = extra.origin;
    if (extra.post !== undefined) {
      // What a web page may send cross-origin with no preflight (a "simple" request).
      headers['content-type'] = 'text/plain;x=application/json';
      headers.accept = 'application/json, text/event-stream';
    }
    const method = extra.post === undefined ? 'GET' : 'POST';
    const req = request(
      { host: url.hostname, port: url.port, path, method, headers, setHost: host !== undefined },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(extra.post);
  });
}

/**
 * The attack: a web page whose own DNS name (evil.example) is rebound to a
 * loopback address reaches a listener there; its requests carry
 * `Host: evil.example`. Both HTTP listeners, the gateway and the MCP bridge,
 * refuse it with the one check of core/loopback.ts, on any loopback address.
 */
describe('Host guard on 127.0.0.2 (DNS rebinding)', () => {
  describe('the gateway', () => {
    const gw = useGateway({ listen: '127.0.0.2:0' });

    it('refuses Host: evil.example and names that only look local', async () => {
      expect(gw.url.hostname).toBe('127.0.0.2');
      for (const host of [
        'evil.example',
        'localhost.evil.example',
        '127.0.0.3',
        'LOCALHOST.evil.example:80',
      ]) {
        const refused = await withHost(gw.url, '/healthz', host);
        expect(refused.status, host).toBe(403);
        expect(JSON.parse(refused.body), host).toMatchObject({ error: { code: 'HOST_REFUSED' } });
      }
      // No Host, or not a host at all: the HTTP server refuses it before the app (400), never served.
      expect((await withHost(gw.url, '/healthz', undefined)).status).toBe(400);
      expect((await withHost(gw.url, '/healthz', 'evil.example@127.0.0.2')).status).toBe(400);
    });

    it('attack: a page of another origin sends a simple cross-site POST with a true Host header: refused by its Origin', async () => {
      const host = `127.0.0.2:${gw.url.port}`;
      for (const origin of FOREIGN_ORIGINS) {
        const refused = await withHost(gw.url, '/healthz', host, { origin });
        expect(refused.status, origin).toBe(403);
        expect(refused.body, origin).toContain('Origin header');
      }
      const local = await withHost(gw.url, '/healthz', host, { origin: `http://127.0.0.2:${gw.url.port}` });
      expect(local.status).toBe(200);
      expect((await withHost(gw.url, '/healthz', host, { origin: 'http://localhost:3000' })).status).toBe(
        200,
      );
    });

    it('accepts the names of the listener', async () => {
      for (const host of [`127.0.0.2:${gw.url.port}`, 'localhost', '127.0.0.1', '[::1]:1']) {
        expect((await withHost(gw.url, '/healthz', host)).status, host).toBe(200);
      }
    });
  });

  describe('the MCP bridge (oacp mcp run --http)', () => {
    let bridge: ChildProcess;
    let url: URL;
    let home: Awaited<ReturnType<typeof freshHome>>;
    beforeAll(async () => {
      home = await freshHome('oacp-bridge-host-');
      bridge = spawn(
        process.execPath,
        [
          VITE_NODE,
          join(REPO, 'src', 'cli', 'main.ts'),
          '--home',
          home.home,
          'mcp',
          'run',
          '--tier',
          'light',
          '--http',
          '127.0.0.2:0',
          '--',
          process.execPath,
          MEMORY,
        ],
        {
          cwd: REPO,
          env: { PATH: process.env.PATH ?? '', ...home.env },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      url = await new Promise<URL>((resolve, reject) => {
        let stderr = '';
        const timer = setTimeout(() => reject(new Error(`the bridge did not start: ${stderr}`)), 60_000);
        bridge.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
          stderr += chunk;
          const found = / at (http:\/\/\S+\/mcp)/.exec(stderr);
          if (found?.[1] !== undefined) {
            clearTimeout(timer);
            resolve(new URL(found[1]));
          }
        });
        bridge.once('exit', () => reject(new Error(`the bridge exited: ${stderr}`)));
      });
    }, 90_000);
    afterAll(async () => {
      if (bridge !== undefined && bridge.exitCode === null) {
        const exited = new Promise((resolve) => bridge.once('exit', resolve));
        bridge.kill('SIGTERM');
        await exited;
      }
      home?.remove();
    });

    it('refuses Host: evil.example', async () => {
      expect(url.hostname).toBe('127.0.0.2');
      for (const host of ['evil.example', 'localhost.evil.example', '127.0.0.3']) {
        const refused = await withHost(url, '/mcp', host);
        expect(refused.status, host).toBe(403);
        expect(refused.body, host).toContain('Host header must name this loopback listener');
      }
    });

    it('attack: a page of another origin POSTs initialize as a simple request (no preflight) with a true Host header: refused, no session, no server started', async () => {
      const host = `127.0.0.2:${url.port}`;
      for (const origin of FOREIGN_ORIGINS) {
        const refused = await withHost(url, '/mcp', host, { origin, post: INITIALIZE });
        expect(refused.status, origin).toBe(403);
        expect(refused.body, origin).toContain('Origin header');
      }
      // A page on this loopback host passes the guard (the client token is then asked for).
      const local = await withHost(url, '/mcp', host, { origin: 'http://localhost:5173' });
      expect(local.status).toBe(401);
    });

    it('accepts the names of the listener', async () => {
      // Past the guard: the client check answers a request without the token with 401.
      const passed = await withHost(url, '/mcp', `127.0.0.2:${url.port}`);
      expect(passed.status).toBe(401);
      expect((await withHost(url, '/mcp', 'localhost')).status).toBe(401);
    });
  });
});
