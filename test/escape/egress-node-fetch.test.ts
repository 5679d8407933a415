import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { isRoot } from './confine-harness.js';
import { EGRESS_TIERS } from './egress-harness.js';
import { type AttackedTier, manifest, type RunResult } from './native-harness.js';

/**
 * Issue 9, compat: a sandbox given `--allow-network HOST:PORT` has HTTP(S)_PROXY pointing at its
 * egress forwarder, but Node's built-in fetch (undici) ignores those variables: every Node MCP
 * server that calls an API with fetch (GitHub, Brave, Notion, Slack...) failed with `fetch failed`
 * (ENETUNREACH, the sandbox has no route). The confined tiers now preload a dispatcher that reads
 * them (NODE_OPTIONS=--require /run/oacp/fetch-proxy.cjs). Real servers on this host's interface
 * address (HTTP and HTTPS with a certificate made here), real Node in the sandbox, real proxy.
 * Run as root (the sandbox gets a leased uid) and, with setpriv, as uid 1000.
 */
const NODE = '/usr/bin/node';
const hostAddress = Object.values(networkInterfaces())
  .flatMap((entries) => entries ?? [])
  .find((entry) => !entry.internal && entry.family === 'IPv4')?.address;
const skip = hostAddress === undefined || !existsSync(NODE) || !existsSync('/usr/bin/openssl');

/**
 * Fetches each URL in argv; one line each: `<status> <body or the proxy's refusal>`, or `error`
 * when it fails (a refused CONNECT). Then its NODE_OPTIONS, and whether it could rewrite the preload.
 */
const FETCH = `
(async () => {
  for (const url of process.argv.slice(1)) {
    try {
      const response = await fetch(url);
      console.log(response.status, response.headers.get('x-oacp-egress-denied') ?? (await response.text()));
    } catch (error) {
      console.log('error');
    }
  }
  console.log('NODE_OPTIONS=' + process.env.NODE_OPTIONS);
  const fs = require('node:fs');
  for (const file of ['/run/oacp/fetch-proxy.cjs', '/run/oacp/fetch-proxy-undici.cjs']) {
    if (!fs.existsSync(file)) console.log('preload absent');
    else try {
      fs.writeFileSync(file, 'globalThis.tampered = 1');
      console.log('preload written');
    } catch (error) {
      console.log('preload', error.code);
    }
  }
})();
`;

const TIERS: Record<string, () => AttackedTier> = {
  hardened: () => new HardenedTier(),
  gvisor: () => new GvisorTier(),
};

describe.skipIf(skip)("egress: Node's built-in fetch goes through the sandbox's proxy", () => {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-node-fetch-'));
  const ca = join(dir, 'cert.pem');
  const host = hostAddress ?? '';
  let plain: Server;
  let secure: Server;
  let refused: Server;
  let hits = 0;
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
    refused = createHttpServer(answer('never'));
    for (const server of [plain, secure, refused])
      await new Promise<void>((resolve) => server.listen(0, host, resolve));
  });
  afterAll(async () => {
    for (const server of [plain, secure, refused]) await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  async function fetchIn(tier: AttackedTier, allowlist: string[], urls: string[]): Promise<RunResult> {
    const sandbox = await tier.start({
      command: NODE,
      args: ['-e', FETCH, ...urls],
      env: { PATH: '/usr/bin:/bin', NODE_OPTIONS: '--max-old-space-size=200', NODE_EXTRA_CA_CERTS: ca },
      manifest: manifest(
        { file_read: [ca], env: ['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS'], network: { allowlist } },
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

  for (const [name, available] of EGRESS_TIERS) {
    it.skipIf(!available)(
      `${name}: fetch() reaches the allowlisted HTTP and HTTPS (CONNECT) servers; one not allowed is refused with 403 (HTTP) or a failed CONNECT (HTTPS) and recorded; the preload is read-only; the user's NODE_OPTIONS is kept`,
      { timeout: 120_000 },
      async () => {
        const before = hits;
        const allowed = [`${host}:${port(plain)}`, `${host}:${port(secure)}`];
        const result = await fetchIn(TIERS[name]?.() as AttackedTier, allowed, [
          `http://${host}:${port(plain)}/`,
          `https://${host}:${port(secure)}/`,
          `http://${host}:${port(refused)}/`,
          `https://${host}:${port(refused)}/`,
        ]);
        const lines = result.out.trim().split('\n');
        expect(result.events.map((event) => [event.effect, event.method, event.port])).toEqual([
          ['allow', 'GET', port(plain)],
          ['allow', 'CONNECT', port(secure)],
          ['deny', 'GET', port(refused)],
          ['deny', 'CONNECT', port(refused)],
        ]);
        const refusal = result.events[2]?.reason ?? '';
        expect(refusal).toMatch(`${host}:${port(refused)} is not in the network allowlist`);
        expect(result.events[3]?.reason).toBe(refusal);
        expect(lines.slice(0, 4), result.err).toEqual([
          '200 plain-ok',
          '200 tls-ok',
          `403 ${refusal}`,
          'error',
        ]);
        expect(lines[4]).toBe('NODE_OPTIONS=--max-old-space-size=200 --require /run/oacp/fetch-proxy.cjs');
        // Both files of the preload (the undici part is loaded at the first fetch) are read-only binds.
        expect(lines[5]).toMatch(/^preload (EROFS|EACCES|EPERM)$/);
        expect(lines[6]).toMatch(/^preload (EROFS|EACCES|EPERM)$/);
        expect(hits).toBe(before + 2);
        expect([result.usage.egressRequests, result.usage.egressDenied]).toEqual([4, 2]);
        expect(result.status.code).toBe(0);
      },
    );

    it.skipIf(!available)(
      `${name}: without an allowlist nothing is preloaded and NODE_OPTIONS is the user's alone`,
      { timeout: 120_000 },
      async () => {
        const result = await fetchIn(TIERS[name]?.() as AttackedTier, [], [`http://${host}:${port(plain)}/`]);
        const lines = result.out.trim().split('\n');
        expect(lines).toEqual([
          'error',
          'NODE_OPTIONS=--max-old-space-size=200',
          'preload absent',
          'preload absent',
        ]);
        expect(result.events).toEqual([]);
      },
    );
  }
});
