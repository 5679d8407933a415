import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import {
  type Agent,
  createServer as createHttpServer,
  get as httpGet,
  type IncomingMessage,
} from 'node:http';
import { createServer as createHttpsServer, get as httpsGet, type Server } from 'node:https';
import { createRequire } from 'node:module';
import {
  type AddressInfo,
  connect,
  createServer as createTcpServer,
  type Socket,
  type Server as TcpServer,
} from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type AgentClass = new (proxy?: URL, env?: Record<string, string>, options?: object) => Agent;
// The sandbox preload's agents (plain CommonJS, bundled into dist/airlock/native/fetch-proxy-preload.cjs).
const { ProxiedHttpAgent, TunnelingHttpsAgent } = createRequire(import.meta.url)('./node-http-proxy.cjs') as {
  ProxiedHttpAgent: AgentClass;
  TunnelingHttpsAgent: AgentClass;
};

const host = Object.values(networkInterfaces())
  .flatMap((entries) => entries ?? [])
  .find((entry) => !entry.internal && entry.family === 'IPv4')?.address;

/** A certificate for `san` signed by itself; its file is also the CA a client trusts. */
function certificate(dir: string, name: string, san: string): { key: Buffer; cert: Buffer } {
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
    `subjectAltName=${san}`,
    '-keyout',
    join(dir, `${name}.key`),
    '-out',
    join(dir, `${name}.pem`),
  ]);
  return { key: readFileSync(join(dir, `${name}.key`)), cert: readFileSync(join(dir, `${name}.pem`)) };
}

/** `<status> <body>` of a response. */
const answer = (res: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let body = '';
    res.on('data', (chunk: Buffer) => {
      body += chunk;
    });
    res.on('end', () => resolve(`${res.statusCode} ${body}`));
  });

describe.skipIf(host === undefined || !existsSync('/usr/bin/openssl'))(
  "node-http-proxy: the preload's agents for node:http and node:https",
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-agents-'));
    const seen: string[] = [];
    const sockets: Socket[] = [];
    let proxy: TcpServer;
    let proxyUrl: URL;
    let good: Server;
    let impostor: Server;
    let plainPort = 0;
    let plain: ReturnType<typeof createHttpServer>;
    let trusted: { key: Buffer; cert: Buffer };
    const port = (server: { address(): unknown }): number => (server.address() as AddressInfo).port;

    beforeAll(async () => {
      trusted = certificate(dir, 'good', `IP:${host}`);
      // A server whose certificate, from the same trusted file, names another host: what a tunnel
      // to the wrong place (or a proxy answering for the host) would present.
      const other = certificate(dir, 'other', 'DNS:other.example');
      good = createHttpsServer(trusted, (_req, res) => res.end('tls-ok'));
      impostor = createHttpsServer(other, (_req, res) => res.end('impostor'));
      plain = createHttpServer((req, res) => res.end(`plain ${req.url}`));
      // A recording proxy: CONNECT is a blind tunnel; an absolute-form request is forwarded.
      proxy = createTcpServer((client) => {
        client.once('data', (head) => {
          const line = head.toString().split('\r\n')[0] ?? '';
          seen.push(line);
          const [method, target] = line.split(' ');
          if (method === 'CONNECT') {
            const [name, targetPort] = (target ?? '').split(':');
            const upstream = connect(Number(targetPort), name, () => {
              client.write('HTTP/1.1 200 Connection established\r\n\r\n');
              client.pipe(upstream).pipe(client);
            });
            upstream.on('error', () => client.destroy());
            return;
          }
          const url = new URL(target ?? '');
          const upstream = connect(Number(url.port), url.hostname, () => {
            upstream.write(head.toString().replace(target ?? '', `${url.pathname}${url.search}`));
            client.pipe(upstream).pipe(client);
          });
        });
      });
      for (const server of [good, impostor, plain, proxy]) {
        server.on('connection', (socket: Socket) => sockets.push(socket));
        await new Promise<void>((resolve) => server.listen(0, host, resolve));
      }
      plainPort = port(plain);
      proxyUrl = new URL(`http://${host}:${port(proxy)}`);
    });
    afterAll(async () => {
      // Kept-alive connections and open tunnels would hold close() forever.
      for (const socket of sockets) socket.destroy();
      for (const server of [good, impostor, plain, proxy])
        await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    });

    it('tunnels HTTPS with CONNECT and verifies TLS against the real host: the proxy sees only host:port', async () => {
      seen.length = 0;
      const agent = new TunnelingHttpsAgent(proxyUrl, {});
      const reply = await new Promise<string>((resolve, reject) =>
        httpsGet(`https://${host}:${port(good)}/secret?token=t`, { agent, ca: trusted.cert }, (res) =>
          answer(res).then(resolve),
        ).on('error', reject),
      );
      expect(reply).toBe('200 tls-ok');
      expect(seen).toEqual([`CONNECT ${host}:${port(good)} HTTP/1.1`]);
    });

    it('refuses, through the tunnel, a certificate that does not name the host asked for', async () => {
      const agent = new TunnelingHttpsAgent(proxyUrl, {});
      const error = await new Promise<NodeJS.ErrnoException>((resolve) =>
        httpsGet(
          `https://${host}:${port(impostor)}/`,
          { agent, ca: readFileSync(join(dir, 'other.pem')) },
          () => resolve(new Error('answered') as NodeJS.ErrnoException),
        ).on('error', resolve),
      );
      expect(error.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    });

    it('sends HTTP in absolute form to the proxy, and dials NO_PROXY hosts and `agent: false` directly', async () => {
      seen.length = 0;
      const get = (agent: Agent | false) =>
        new Promise<string>((resolve, reject) =>
          httpGet(`http://${host}:${plainPort}/a?b`, { agent }, (res) => answer(res).then(resolve)).on(
            'error',
            reject,
          ),
        );
      // Kept alive as Node's global agent is.
      const proxied = new ProxiedHttpAgent(proxyUrl, {}, { keepAlive: true });
      expect(await get(proxied)).toBe('200 plain /a?b');
      // A second request opens its own connection (the fixture records each connection's first
      // line): a kept-alive one that the proxy closed for idleness would fail it.
      expect(await get(proxied)).toBe('200 plain /a?b');
      expect(seen).toEqual(Array(2).fill(`GET http://${host}:${plainPort}/a?b HTTP/1.1`));
      seen.length = 0;
      expect(await get(new ProxiedHttpAgent(proxyUrl, { NO_PROXY: host ?? '' }))).toBe('200 plain /a?b');
      // What Node builds for `agent: false`: the global agent's class, without arguments.
      expect(await get(new ProxiedHttpAgent())).toBe('200 plain /a?b');
      expect(seen).toEqual([]);
    });
  },
);
