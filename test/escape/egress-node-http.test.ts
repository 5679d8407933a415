import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { isRoot } from './confine-harness.js';
import { EGRESS_TIERS } from './egress-harness.js';
import { type AttackedTier, manifest, type RunResult } from './native-harness.js';

/**
 * Issue 9, compat: node:http and node:https ignore HTTP(S)_PROXY, so a Node MCP server calling an
 * allowed API with node-fetch, got, octokit's older transports or plain https.get dialled the host
 * itself and failed (ENETUNREACH: the sandbox has only `lo`). The preload (NODE_OPTIONS=--require
 * /run/oacp/fetch-proxy.cjs) now also sets http.globalAgent (absolute form to the proxy) and
 * https.globalAgent (CONNECT, then TLS to the real host). Real axios and node-fetch from npm, real
 * servers on this host's interface address (HTTPS with a CA made here, trusted through
 * NODE_EXTRA_CA_CERTS), real proxy, both confined tiers; as root and, with setpriv, uid 1000.
 *
 * The preload is a route, not a fence: a request that bypasses it (its own agent, a raw socket)
 * must still find no way out, and `network.node_preload: false` (--no-node-preload) must leave
 * the allowlist enforced while clients that read HTTPS_PROXY themselves (axios) still get through.
 */
const NODE = '/usr/bin/node';
const MODULES = fileURLToPath(new URL('../../node_modules', import.meta.url));
const hostAddress = Object.values(networkInterfaces())
  .flatMap((entries) => entries ?? [])
  .find((entry) => !entry.internal && entry.family === 'IPv4')?.address;
const skip =
  hostAddress === undefined ||
  !existsSync(NODE) ||
  !existsSync('/usr/bin/openssl') ||
  !existsSync(join(MODULES, 'axios')) ||
  !existsSync(join(MODULES, 'node-fetch'));

/**
 * Runs each `client url` pair of argv[2..] in turn and prints one line each: `<status> <the
 * proxy's refusal, or the body>`, or `error <code>` when the request fails, then NODE_OPTIONS.
 * Clients: `node` (http.get/https.get, Node's global agents), `own-agent` (`agent: false`, the
 * program's own choice), `socket` (a raw TCP connection), `axios` (its own HTTPS_PROXY handling),
 * `axios-no-env` (`proxy: false`: Node's global agents), `node-fetch`, and `loopback` (a server the
 * program starts on its own 127.0.0.1, which node:http and fetch() must reach directly).
 */
const CLIENTS = `
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const modules = process.argv[1];
const line = (status, headers, body) => status + ' ' + (headers['x-oacp-egress-denied'] ?? body);
const get = (url, options) => new Promise((resolve, reject) => {
  (url.startsWith('https:') ? https : http).get(url, options, (res) => {
    let body = '';
    res.on('data', (chunk) => { body += chunk; });
    res.on('end', () => resolve(line(res.statusCode, res.headers, body)));
  }).on('error', reject);
});
const clients = {
  node: (url) => get(url, {}),
  'own-agent': (url) => get(url, { agent: false }),
  socket: (url) => new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    net.connect(Number(port), hostname, () => resolve('connected')).on('error', reject);
  }),
  axios: async (url) => {
    const response = await require(modules + '/axios').get(url, { validateStatus: () => true });
    return line(response.status, response.headers, response.data);
  },
  'axios-no-env': async (url) => {
    const response = await require(modules + '/axios').get(url, { proxy: false, validateStatus: () => true });
    return line(response.status, response.headers, response.data);
  },
  'node-fetch': async (url) => {
    const { default: fetch } = await import(modules + '/node-fetch/src/index.js');
    const response = await fetch(url);
    return response.status + ' ' + (response.headers.get('x-oacp-egress-denied') ?? (await response.text()));
  },
  loopback: async () => {
    const server = http.createServer((req, res) => res.end('loopback-ok'));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = 'http://127.0.0.1:' + server.address().port + '/';
    try {
      const viaFetch = await fetch(url);
      return (await get(url, {})) + ', fetch ' + viaFetch.status + ' ' + (await viaFetch.text());
    } finally {
      server.close();
    }
  },
};
(async () => {
  const plan = process.argv.slice(2);
  for (let i = 0; i < plan.length; i += 2) {
    try {
      console.log(await clients[plan[i]](plan[i + 1]));
    } catch (error) {
      const why = plan[i] === 'node' && error.code === 'ERR_PROXY_TUNNEL' ? ' ' + error.message : '';
      console.log('error ' + (error.code ?? error.message) + why);
    }
  }
  console.log('NODE_OPTIONS=' + process.env.NODE_OPTIONS);
})();
`;

const TIERS: Record<string, () => AttackedTier> = {
  hardened: () => new HardenedTier(),
  gvisor: () => new GvisorTier(),
};

describe.skipIf(skip)('egress: node:http(s), axios and node-fetch go through the sandbox proxy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-node-http-'));
  const ca = join(dir, 'cert.pem');
  const host = hostAddress ?? '';
  let plain: Server;
  let secure: Server;
  let refused: Server;
  let hits = 0;
  let refusedHits = 0;
  const port = (server: Server): number => (server.address() as AddressInfo).port;

  beforeAll(async () => {
    chmodSync(dir, 0o755);
    execFileSync('/usr/bin/openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=oacp-test',
      '-addext',
      `subjectAltName=IP:${host}`,
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      ca,
    ]);
    chmodSync(ca, 0o644);
    const answer = (body: string) => (_req: unknown, res: { end(body: string): void }) => {
      hits++;
      res.end(body);
    };
    plain = createHttpServer(answer('plain-ok'));
    secure = createHttpsServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(ca) },
      answer('tls-ok'),
    );
    refused = createHttpServer((_req, res) => {
      refusedHits++;
      res.end('never');
    });
    refused.on('connection', () => {
      refusedHits++;
    });
    for (const server of [plain, secure, refused])
      await new Promise<void>((resolve) => server.listen(0, host, resolve));
  });
  afterAll(async () => {
    for (const server of [plain, secure, refused]) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  async function runIn(
    tier: AttackedTier,
    network: Record<string, unknown>,
    plan: string[],
  ): Promise<RunResult> {
    const sandbox = await tier.start({
      command: NODE,
      args: ['-e', CLIENTS, MODULES, ...plan],
      env: { PATH: '/usr/bin:/bin', NODE_OPTIONS: '--max-old-space-size=200', NODE_EXTRA_CA_CERTS: ca },
      manifest: manifest(
        { file_read: [ca, `${MODULES}/**`], env: ['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS'], network },
        {},
        // As uid 1000 on a cgroup v1 host only root can enforce these: what is tested here is the network.
        isRoot ? {} : { allow_unenforced: ['memory', 'pids', 'cpu'] },
      ),
    });
    let out = '';
    sandbox.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    let err = '';
    sandbox.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    sandbox.stdin.end();
    const status = await sandbox.exit;
    return { out, err, status, usage: sandbox.usage(), events: sandbox.egressEvents() };
  }

  /** The sandbox's direct routes out: none but its own loopback, in either tier. */
  const NO_ROUTE = /^error (ENETUNREACH|EHOSTUNREACH)$/;

  for (const [name, available] of EGRESS_TIERS) {
    it.skipIf(!available)(
      `${name}: node:http(s), axios and node-fetch reach the allowed HTTP and HTTPS servers through the proxy; a host not allowed is refused by the proxy and recorded; its own agent or a raw socket finds no route; its own loopback stays direct`,
      { timeout: 180_000 },
      async () => {
        const before = hits;
        const http = `http://${host}:${port(plain)}/`;
        const https = `https://${host}:${port(secure)}/`;
        const deniedHttp = `http://${host}:${port(refused)}/`;
        const deniedHttps = `https://${host}:${port(refused)}/`;
        const result = await runIn(
          TIERS[name]?.() as AttackedTier,
          { allowlist: [`${host}:${port(plain)}`, `${host}:${port(secure)}`] },
          [
            ...['node', 'axios', 'axios-no-env', 'node-fetch'].flatMap((client) => [
              client,
              http,
              client,
              https,
            ]),
            ...['node', 'node-fetch'].flatMap((client) => [client, deniedHttp, client, deniedHttps]),
            ...['own-agent', http, 'own-agent', https, 'socket', http],
            ...['loopback', '-'],
          ],
        );
        const refusal = `${host}:${port(refused)} is not in the network allowlist`;
        const denials = result.events.filter((event) => event.effect === 'deny');
        expect(denials.map((event) => [event.method, event.port])).toEqual([
          ['GET', port(refused)],
          ['CONNECT', port(refused)],
          ['GET', port(refused)],
          ['CONNECT', port(refused)],
        ]);
        for (const denial of denials) expect(denial.reason).toMatch(refusal);
        const reason = denials[0]?.reason ?? '';
        // Allowed requests may share a kept-alive connection (or tunnel): every one recorded is allowed.
        const allowed = result.events.filter((event) => event.effect === 'allow');
        expect(allowed.length).toBeGreaterThan(0);
        for (const event of allowed) expect([port(plain), port(secure)]).toContain(event.port);
        const lines = result.out.trim().split('\n');
        expect(lines.slice(0, 8), result.err).toEqual(Array(4).fill(['200 plain-ok', '200 tls-ok']).flat());
        expect(lines.slice(8, 12)).toEqual([
          `403 ${reason}`,
          `error ERR_PROXY_TUNNEL the egress proxy refused CONNECT ${host}:${port(refused)}: 403 ${reason}`,
          `403 ${reason}`,
          // node-fetch reports the same tunnel refusal as its own FetchError, with Node's code.
          'error ERR_PROXY_TUNNEL',
        ]);
        for (const bypass of lines.slice(12, 15)) expect(bypass).toMatch(NO_ROUTE);
        expect(lines[15]).toBe('200 loopback-ok, fetch 200 loopback-ok');
        expect(lines[16]).toBe('NODE_OPTIONS=--max-old-space-size=200 --require /run/oacp/fetch-proxy.cjs');
        expect(hits).toBe(before + 8);
        expect(refusedHits).toBe(0);
        expect(result.status.code).toBe(0);
      },
    );

    it.skipIf(!available)(
      `${name}: with network.node_preload false (--no-node-preload) nothing is preloaded; axios (which reads HTTPS_PROXY) still gets through, node:http finds no route, and a host not allowed is still refused`,
      { timeout: 180_000 },
      async () => {
        const before = hits;
        const https = `https://${host}:${port(secure)}/`;
        const result = await runIn(
          TIERS[name]?.() as AttackedTier,
          { allowlist: [`${host}:${port(plain)}`, `${host}:${port(secure)}`], node_preload: false },
          [
            'axios',
            `http://${host}:${port(plain)}/`,
            'axios',
            https,
            'axios',
            `https://${host}:${port(refused)}/`,
            'node',
            https,
            'socket',
            https,
          ],
        );
        const lines = result.out.trim().split('\n');
        expect(lines.slice(0, 2), result.err).toEqual(['200 plain-ok', '200 tls-ok']);
        // axios's own tunnel (https-proxy-agent) hands the program the proxy's refusal as the response.
        expect(lines[2]).toMatch(new RegExp(`^403 ${host}:${port(refused)} is not in the network allowlist`));
        for (const bypass of lines.slice(3, 5)) expect(bypass).toMatch(NO_ROUTE);
        expect(lines[5]).toBe('NODE_OPTIONS=--max-old-space-size=200');
        expect(result.events.map((event) => [event.effect, event.method, event.port])).toEqual([
          ['allow', 'GET', port(plain)],
          ['allow', 'CONNECT', port(secure)],
          ['deny', 'CONNECT', port(refused)],
        ]);
        expect(hits).toBe(before + 2);
        expect(refusedHits).toBe(0);
      },
    );
  }
});
