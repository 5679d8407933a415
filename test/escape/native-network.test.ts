import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resolver } from '../../src/airlock/egress/resolver.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { manifest, PYTHON, run } from './native-harness.js';

/**
 * Network attacks through the egress proxy. Only loopback servers are ever
 * reached; the refusals are checked before any connection is made, and the
 * injected resolver lets a name "resolve" to private addresses without DNS.
 */
const resolver: Resolver = async (host) => {
  if (host === 'rebind.attacker.test') return ['169.254.169.254'];
  if (host === 'intranet.attacker.test') return ['10.0.0.1'];
  throw new Error(`no such host ${host}`);
};
const tier = new HardenedTier({ resolver });
const availability = await tier.availability();
const skip = !availability.available || !existsSync(PYTHON) || !existsSync('/usr/bin/socat');
if (skip)
  console.log(
    'skipping hardened network escapes:',
    availability.available ? 'python3 or socat missing' : availability.reason,
  );

/** Fetches each URL through the sandbox's HTTP_PROXY and prints "status body" per line. */
const FETCH = `
import sys, urllib.request, urllib.error
for url in sys.argv[1:]:
    try:
        r = urllib.request.urlopen(url, timeout=5)
        print(r.status, r.read().decode())
    except urllib.error.HTTPError as e:
        print(e.code, e.headers.get('x-oacp-egress-denied'))
    except Exception as e:
        print('error', e)
`;

describe.skipIf(skip)('hardened tier egress', () => {
  let server: Server;
  let port = 0;
  let hits = 0;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      hits++;
      res.end('loopback-ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function fetchAll(allowlist: string[], urls: string[]) {
    return run(tier, {
      command: PYTHON,
      args: ['-c', FETCH, ...urls],
      manifest: manifest({ network: { allowlist } }),
    });
  }

  it('reaches an explicitly allowlisted loopback server through the proxy', async () => {
    const result = await fetchAll(['127.0.0.1'], [`http://127.0.0.1:${port}/`]);
    expect(result.out.trim()).toBe('200 loopback-ok');
    expect(result.events).toMatchObject([{ effect: 'allow', host: '127.0.0.1', port, address: '127.0.0.1' }]);
    expect(result.usage.egressRequests).toBe(1);
  });

  it('refuses a host that is not on the allowlist, and says so', async () => {
    const before = hits;
    const result = await fetchAll(
      ['api.example.test'],
      [`http://127.0.0.1:${port}/`, 'http://attacker.test/x'],
    );
    const lines = result.out.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^403 127\\.0\\.0\\.1:${port} is not in the network allowlist`));
    expect(lines[1]).toMatch(/^403 attacker\.test:80 is not in the network allowlist/);
    expect(lines).toHaveLength(2);
    expect(hits).toBe(before);
    expect(result.events.map((event) => event.effect)).toEqual(['deny', 'deny']);
    expect(result.usage.egressDenied).toBe(2);
  });

  it('refuses the cloud metadata address given as an IP literal', async () => {
    const result = await fetchAll(['*.amazonaws.com'], ['http://169.254.169.254/latest/meta-data/']);
    expect(result.out.trim()).toMatch(/^403 169\.254\.169\.254:80 is not in the network allowlist/);
    expect(result.events[0]).toMatchObject({ effect: 'deny', host: '169.254.169.254' });
  });

  it('refuses allowlisted names that rebind to metadata or private addresses', async () => {
    const result = await fetchAll(
      ['rebind.attacker.test', 'intranet.attacker.test'],
      ['http://rebind.attacker.test/', 'http://intranet.attacker.test/'],
    );
    const lines = result.out.trim().split('\n');
    expect(lines[0]).toMatch(/^403 rebind\.attacker\.test resolved to 169\.254\.169\.254/);
    expect(lines[1]).toMatch(/^403 intranet\.attacker\.test resolved to 10\.0\.0\.1/);
    expect(result.events.map((event) => [event.effect, event.address])).toEqual([
      ['deny', '169.254.169.254'],
      ['deny', '10.0.0.1'],
    ]);
  });

  it.skipIf(!existsSync('/usr/bin/curl'))('refuses CONNECT tunnels off the allowlist (HTTPS)', async () => {
    const result = await run(tier, {
      command: '/usr/bin/curl',
      args: ['-sS', '-o', '/dev/null', '-w', '%{http_code}', 'https://attacker.test/'],
      manifest: manifest({ network: { allowlist: ['api.example.test'] } }),
    });
    expect(result.out).toBe('000');
    expect(result.err).toMatch(/403/);
    expect(result.events).toMatchObject([
      { effect: 'deny', method: 'CONNECT', host: 'attacker.test', port: 443 },
    ]);
  });

  it('has no proxy and no route at all when the manifest grants no network', async () => {
    const result = await run(tier, {
      command: PYTHON,
      args: [
        '-c',
        'import os, socket\nprint(os.environ.get("HTTP_PROXY"))\ntry:\n  socket.create_connection(("127.0.0.1", 3128), timeout=2)\nexcept OSError as e: print(e.errno)',
      ],
      manifest: manifest(),
    });
    expect(result.out.trim().split('\n')).toEqual(['None', '111']);
    expect(result.usage.egressRequests).toBe(0);
  });

  it('applies network_requests_per_min inside the sandbox', async () => {
    const url = `http://127.0.0.1:${port}/`;
    const result = await run(tier, {
      command: PYTHON,
      args: ['-c', FETCH, url, url, url],
      manifest: manifest(
        { network: { allowlist: ['127.0.0.1'] } },
        { network_requests_per_min: 2, burst: 0 },
      ),
    });
    const lines = result.out.trim().split('\n');
    expect(lines.slice(0, 2)).toEqual(['200 loopback-ok', '200 loopback-ok']);
    expect(lines[2]).toMatch(/^429 quota network_requests_per_min exceeded/);
  });
});
