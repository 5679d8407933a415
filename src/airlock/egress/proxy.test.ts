import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, request } from 'node:http';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { QuotasSchema } from '../../capability/manifest.js';
import { NetworkPolicy } from '../../capability/network-policy.js';
import { allow } from '../../core/decision.js';
import type { EgressEvent } from './audit.js';
import { EgressProxy } from './proxy.js';
import type { Resolver } from './resolver.js';
import { proxyRules } from './rules.js';

const dir = mkdtempSync(join(tmpdir(), 'oacp-egress-'));
let echo: Server;
let echoPort = 0;
let web: ReturnType<typeof createHttpServer>;
let webPort = 0;
let echoConnections = 0;
const proxies: EgressProxy[] = [];

beforeAll(async () => {
  echo = createServer((socket) => {
    echoConnections++;
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as AddressInfo).port;
  web = createHttpServer((req, res) => {
    res.end(
      JSON.stringify({ url: req.url, host: req.headers.host, proxyAuth: req.headers['proxy-authorization'] }),
    );
  });
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  webPort = (web.address() as AddressInfo).port;
});

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

afterAll(async () => {
  await new Promise((resolve) => echo.close(resolve));
  await new Promise((resolve) => web.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function refusingResolver(calls: string[]): Resolver {
  return async (host) => {
    calls.push(host);
    throw new Error(`resolver must not be asked for ${host}`);
  };
}

let counter = 0;
async function startProxy(
  network: { allowlist?: string[]; denylist?: string[] },
  extra: { resolver?: Resolver; perMinute?: number; events?: EgressEvent[] } = {},
): Promise<{ proxy: EgressProxy; path: string }> {
  const policy = NetworkPolicy.from({ allowlist: network.allowlist ?? [], denylist: network.denylist ?? [] });
  const proxy = new EgressProxy({
    rules: proxyRules(policy),
    quotas: QuotasSchema.parse({ network_requests_per_min: extra.perMinute ?? 100, burst: 0 }),
    ...(extra.resolver === undefined ? {} : { resolver: extra.resolver }),
    ...(extra.events === undefined ? {} : { onEvent: (event: EgressEvent) => extra.events?.push(event) }),
  });
  const path = join(dir, `p${counter++}.sock`);
  await proxy.listen(path);
  proxies.push(proxy);
  return { proxy, path };
}

/** Sends CONNECT over the proxy socket; resolves with the status, the deny header and the socket. */
function connectVia(
  path: string,
  authority: string,
): Promise<{ status: number; reason: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffered = '';
    socket.on('error', reject);
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n\r\n`);
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      const status = Number(buffered.slice(9, 12));
      const reason = /x-oacp-egress-denied: (.*)\r\n/i.exec(buffered)?.[1] ?? '';
      resolve({ status, reason, socket });
    };
    socket.on('data', onData);
  });
}

function getVia(path: string, url: string): Promise<{ status: number; reason: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      socketPath: path,
      path: url,
      headers: { 'proxy-authorization': 'Basic c2VjcmV0' },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          reason: String(res.headers['x-oacp-egress-denied'] ?? ''),
          body,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('egress proxy', () => {
  it('tunnels CONNECT to an explicitly allowlisted loopback address', async () => {
    const events: EgressEvent[] = [];
    const { path, proxy } = await startProxy({ allowlist: ['127.0.0.1'] }, { events });
    const { status, socket } = await connectVia(path, `127.0.0.1:${echoPort}`);
    expect(status).toBe(200);
    const reply = await new Promise<string>((resolve) => {
      socket.once('data', (chunk: Buffer) => resolve(chunk.toString()));
      socket.write('ping');
    });
    socket.destroy();
    expect(reply).toBe('ping');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      effect: 'allow',
      method: 'CONNECT',
      host: '127.0.0.1',
      address: '127.0.0.1',
    });
    expect(proxy.audit.requests).toBe(1);
    expect(proxy.audit.denied).toBe(0);
  });

  it('forwards plain HTTP in origin form and strips proxy credentials', async () => {
    const { path } = await startProxy({ allowlist: [`127.0.0.1:${webPort}`] });
    const { status, body } = await getVia(path, `http://127.0.0.1:${webPort}/hello?x=1`);
    expect(status).toBe(200);
    expect(JSON.parse(body)).toEqual({ url: '/hello?x=1', host: `127.0.0.1:${webPort}` });
  });

  it('denies loopback by default: a wildcard allowlist does not open it', async () => {
    const { path, proxy } = await startProxy({ allowlist: ['*.example.test'] });
    const before = echoConnections;
    const { status, reason } = await connectVia(path, `127.0.0.1:${echoPort}`);
    expect(status).toBe(403);
    expect(reason).toMatch(/not in the network allowlist/);
    expect(echoConnections).toBe(before);
    expect(proxy.audit.events[0]).toMatchObject({ effect: 'deny', host: '127.0.0.1', port: echoPort });
  });

  it('denies a port the allowlist entry does not name', async () => {
    const { path } = await startProxy({ allowlist: [`127.0.0.1:${webPort}`] });
    const { status, reason } = await connectVia(path, `127.0.0.1:${echoPort}`);
    expect(status).toBe(403);
    expect(reason).toMatch(/not in the network allowlist/);
  });

  it('refuses a host off the allowlist before any DNS lookup', async () => {
    const calls: string[] = [];
    const { path } = await startProxy(
      { allowlist: ['api.example.test'] },
      { resolver: refusingResolver(calls) },
    );
    const { status, reason } = await connectVia(path, 'attacker.test:443');
    expect(status).toBe(403);
    expect(reason).toMatch(/attacker\.test:443 is not in the network allowlist/);
    expect(calls).toEqual([]);
  });

  it('refuses the metadata address as an IP literal', async () => {
    const { path, proxy } = await startProxy({ allowlist: ['*.amazonaws.com'] });
    const { status } = await connectVia(path, '169.254.169.254:80');
    expect(status).toBe(403);
    const http = await getVia(path, 'http://169.254.169.254/latest/meta-data/');
    expect(http.status).toBe(403);
    expect(proxy.audit.denied).toBe(2);
  });

  it('refuses an allowlisted name that rebinds to the metadata service', async () => {
    const resolver: Resolver = async () => ['169.254.169.254'];
    const { path, proxy } = await startProxy({ allowlist: ['rebind.test', '*.attacker.test'] }, { resolver });
    for (const host of ['rebind.test', 'x.attacker.test']) {
      const { status, reason } = await connectVia(path, `${host}:80`);
      expect(status).toBe(403);
      expect(reason).toMatch(/resolved to 169\.254\.169\.254/);
    }
    expect(proxy.audit.events.map((event) => event.address)).toEqual(['169.254.169.254', '169.254.169.254']);
  });

  it('refuses a name resolving into an IANA non-global IPv6 block (SRv6 SIDs, dummy prefix, ORCHID)', async () => {
    const answers = ['5f00::1', '100:0:0:1::7', '2001:10::1'];
    let next = 0;
    const resolver: Resolver = async () => [answers[next++] ?? '2606:4700::1111'];
    const { path, proxy } = await startProxy({ allowlist: ['*.sid.test'] }, { resolver });
    for (const label of ['a', 'b', 'c']) {
      const { status, reason } = await connectVia(path, `${label}.sid.test:443`);
      expect(status).toBe(403);
      expect(reason).toMatch(/denied by default/);
    }
    expect(proxy.audit.events.map((event) => [event.effect, event.address])).toEqual(
      answers.map((address) => ['deny', address]),
    );
  });

  it('refuses a name when any one of its addresses is private', async () => {
    const resolver: Resolver = async () => ['93.184.216.34', '10.0.0.1'];
    const { path } = await startProxy({ allowlist: ['mixed.test'] }, { resolver });
    const { status, reason } = await connectVia(path, 'mixed.test:443');
    expect(status).toBe(403);
    expect(reason).toMatch(/10\.0\.0\.1/);
  });

  it('refuses an address inside a denylisted CIDR block', async () => {
    const resolver: Resolver = async () => ['203.0.113.7'];
    const { path } = await startProxy(
      { allowlist: ['*.example.test'], denylist: ['203.0.113.0/24'] },
      { resolver },
    );
    const { status, reason } = await connectVia(path, 'www.example.test:443');
    expect(status).toBe(403);
    expect(reason).toMatch(/denylist \(203\.0\.113\.0\/24\)/);
  });

  it('refuses a denylisted host even when a wildcard allows it', async () => {
    const { path } = await startProxy({ allowlist: ['*.example.test'], denylist: ['evil.example.test'] });
    const { status, reason } = await connectVia(path, 'evil.example.test:443');
    expect(status).toBe(403);
    expect(reason).toMatch(/denylist/);
  });

  it('dials the address it checked and resolves only once', async () => {
    let lookups = 0;
    const resolver: Resolver = async () => (lookups++ === 0 ? ['127.0.0.1'] : ['127.0.0.2']);
    const permissive = { decide: () => allow('test'), decideAddress: () => allow('test') };
    const proxy = new EgressProxy({ rules: permissive, quotas: QuotasSchema.parse({}), resolver });
    const path = join(dir, 'permissive.sock');
    await proxy.listen(path);
    proxies.push(proxy);
    const { status, socket } = await connectVia(path, `name.test:${echoPort}`);
    socket.destroy();
    expect(status).toBe(200);
    expect(lookups).toBe(1);
  });

  it('reports a failed lookup as a recorded refusal', async () => {
    const resolver: Resolver = async () => {
      throw new Error('NXDOMAIN');
    };
    const { path, proxy } = await startProxy({ allowlist: ['gone.test'] }, { resolver });
    const { status, reason } = await connectVia(path, 'gone.test:443');
    expect(status).toBe(502);
    expect(reason).toMatch(/cannot resolve gone\.test: NXDOMAIN/);
    expect(proxy.audit.denied).toBe(1);
  });

  it("attack: a resolver's error quoting a URL with credentials and a token: masked in the answer and in the recorded event", async () => {
    const resolver: Resolver = async () => {
      throw new Error('DoH https://dns-user:dohpass-9q8w@doh.test/dns-query?token=doh-tok-7e6r failed');
    };
    const events: EgressEvent[] = [];
    const { path } = await startProxy({ allowlist: ['gone.test'] }, { resolver, events });
    const { status, reason, socket } = await connectVia(path, 'gone.test:443');
    socket.destroy();
    expect(status).toBe(502);
    const kept = [reason, ...events.map((event) => event.reason)].join('\n');
    expect(events).toHaveLength(1);
    for (const secret of ['dohpass-9q8w', 'doh-tok-7e6r', 'dns-user']) expect(kept).not.toContain(secret);
    expect(events[0]?.reason).toContain('cannot resolve gone.test: DoH https://[REDACTED]@doh.test/');
  });

  it('applies network_requests_per_min and names the quota', async () => {
    const { path, proxy } = await startProxy({ allowlist: [`127.0.0.1:${webPort}`] }, { perMinute: 2 });
    const url = `http://127.0.0.1:${webPort}/`;
    expect((await getVia(path, url)).status).toBe(200);
    expect((await getVia(path, url)).status).toBe(200);
    const third = await getVia(path, url);
    expect(third.status).toBe(429);
    expect(third.reason).toMatch(/quota network_requests_per_min exceeded: limit 2\/min/);
    expect(proxy.audit.requests).toBe(3);
    expect(proxy.audit.denied).toBe(1);
  });

  it('refuses requests that are not proxy requests', async () => {
    const { path } = await startProxy({ allowlist: ['127.0.0.1'] });
    expect((await getVia(path, '/relative')).status).toBe(403);
    expect((await connectVia(path, 'no-port')).status).toBe(403);
    expect((await connectVia(path, 'user@127.0.0.1:80')).status).toBe(403);
  });

  it('refuses a DNS-rebinding spelling of loopback (decimal IP)', async () => {
    const { path } = await startProxy({ allowlist: ['*.example.test'] });
    const { status } = await getVia(path, `http://2130706433:${webPort}/`);
    expect(status).toBe(403);
  });

  it('attack: a key as the CONNECT target: 403, the key quoted back neither in the header nor the body', async () => {
    const { path } = await startProxy({ allowlist: ['127.0.0.1'] });
    const key = 'oacp_k7Qx2mN9_s3cr3tS3cr3tS3cr3tS3cr3t';
    const provider = 'sk-proj-Hq7Lm2Xv9Rt4Wz6Np1Kd3Bc5';
    for (const target of [key, provider, 'x'.repeat(5_000)]) {
      const { status, reason, socket } = await connectVia(path, target);
      let rest = '';
      socket.on('data', (chunk: Buffer) => {
        rest += chunk.toString('latin1');
      });
      await new Promise((resolve) => socket.once('close', resolve));
      expect(status).toBe(403);
      expect(reason).toContain('is not host:port');
      expect(reason.length).toBeLessThan(300);
      for (const text of [reason, rest]) {
        expect(text).not.toContain('s3cr3t');
        expect(text).not.toContain('Hq7Lm2Xv9Rt4Wz6Np1Kd3Bc5');
      }
    }
  });

  it('attack: a workload dribbling its request headers (one byte every 500 ms) gets 408 and a closed socket after 10 s', async () => {
    const { path } = await startProxy({ allowlist: ['127.0.0.1'] });
    const started = Date.now();
    const socket = connect(path);
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
    });
    socket.on('connect', () => {
      socket.write(`GET http://127.0.0.1:${webPort}/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: `);
      // Dribbles until 9.5 s, then waits: a byte written just as the proxy answers and closes (at
      // 10 s, a multiple of 500 ms) failed with EPIPE, and the socket was destroyed before its 408 was read.
      timer = setInterval(() => {
        if (Date.now() - started < 9_500) socket.write('a');
        else clearInterval(timer);
      }, 500);
    });
    // Past the 30 s Node sweeps at by default: a proxy that waits that long has failed.
    const deadline = setTimeout(() => socket.destroy(), 25_000);
    await new Promise((resolve) => {
      socket.on('close', resolve);
      socket.on('error', resolve);
    });
    clearInterval(timer);
    clearTimeout(deadline);
    const ms = Date.now() - started;
    expect(answer.split('\r\n')[0]).toMatch(/^HTTP\/1\.1 408 /);
    expect(ms).toBeGreaterThanOrEqual(9_500);
    expect(ms).toBeLessThan(13_000);
  }, 30_000);
});
