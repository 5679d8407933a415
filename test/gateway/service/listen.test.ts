import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLoopbackAddress as isLoopback } from '../../../src/core/loopback.js';
import { createGateway } from '../../../src/gateway/gateway.js';
import { parseListen } from '../../../src/gateway/http/listen.js';
import { silentLogger } from '../../../src/gateway/observability/logger.js';
import { freshHome } from './node-home.js';

function selfSignedCert(dir: string): { cert: string; key: string } | undefined {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { encoding: 'utf8' },
  );
  return made.status === 0 && existsSync(cert) ? { cert, key } : undefined;
}

function httpsGet(url: URL, ca: Buffer | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, rejectUnauthorized: true }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('listening', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-tls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('parses listen addresses and knows loopback', () => {
    expect(parseListen(':8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('[::1]:9')).toEqual({ host: '::1', port: 9 });
    expect(() => parseListen('nohost')).toThrow(/HOST:PORT/);
    expect(() => parseListen('1.2.3.4:70000')).toThrow();
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('127.9.9.9')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('localhost')).toBe(true);
    expect(isLoopback('0.0.0.0')).toBe(false);
    expect(isLoopback('10.0.0.1')).toBe(false);
    expect(isLoopback('localhost.evil.example')).toBe(false);
  });

  it('refuses plain HTTP on a non-loopback address unless --insecure', async () => {
    const home = await freshHome();
    const gateway = await createGateway({
      home: home.home,
      env: home.env,
      listen: '0.0.0.0:0',
      logger: silentLogger(),
    });
    try {
      await expect(gateway.listen()).rejects.toMatchObject({
        code: 'GATEWAY_LISTEN_REFUSED',
        message: expect.stringContaining('without TLS'),
      });
    } finally {
      await gateway.close();
    }
    const insecure = await createGateway({
      home: home.home,
      env: home.env,
      listen: '0.0.0.0:0',
      insecure: true,
      logger: silentLogger(),
    });
    try {
      const url = await insecure.listen();
      expect(url.protocol).toBe('http:');
    } finally {
      await insecure.close();
      home.remove();
    }
  });

  it('serves HTTPS with the given certificate and key, also on a non-loopback address', async (ctx) => {
    const pair = selfSignedCert(dir);
    if (pair === undefined) ctx.skip();
    if (pair === undefined) return;
    const home = await freshHome();
    const gateway = await createGateway({
      home: home.home,
      env: home.env,
      listen: '0.0.0.0:0',
      tls: pair,
      logger: silentLogger(),
    });
    try {
      const url = await gateway.listen();
      expect(url.protocol).toBe('https:');
      const local = new URL(`https://127.0.0.1:${url.port}/healthz`);
      const answer = await httpsGet(local, readFileSync(pair.cert));
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toMatchObject({ status: 'ok' });
      await expect(httpsGet(local, undefined)).rejects.toThrow(/self.signed|certificate/i);
      const plain = await fetch(`http://127.0.0.1:${url.port}/healthz`).then(
        (r) => r.status,
        () => 'refused',
      );
      expect(plain).not.toBe(200);
    } finally {
      await gateway.close();
      home.remove();
    }
  });

  it('refuses a TLS key that does not exist without printing key material', async () => {
    const home = await freshHome();
    const gateway = await createGateway({
      home: home.home,
      env: home.env,
      listen: '127.0.0.1:0',
      tls: { cert: join(dir, 'missing.pem'), key: join(dir, 'missing.key') },
      logger: silentLogger(),
    });
    try {
      await expect(gateway.listen()).rejects.toMatchObject({ code: 'GATEWAY_TLS_INVALID' });
    } finally {
      await gateway.close();
      home.remove();
    }
  });
});
