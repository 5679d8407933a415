import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { PROMETHEUS_CONTENT_TYPE } from '../observability/registry.js';
import { requireScope } from './auth.js';
import type { GatewayEnv } from './env.js';
import { httpError } from './errors.js';
import type { GatewayServices } from './services.js';
import { readTile, tileCacheControl } from './tiles.js';

/** Paths answered without authentication: receipts and the log are public by design (digests only). */
export function isPublicPath(path: string, services: GatewayServices): boolean {
  return (
    path === '/healthz' ||
    path === '/v1/log/checkpoint' ||
    path.startsWith('/v1/log/tile/') ||
    path.startsWith('/v1/receipts/') ||
    // A2A authenticates each message by its sender's signature and the trust graph (src/a2a).
    path === '/.well-known/agent-card.json' ||
    path.startsWith('/a2a/') ||
    (path === '/metrics' && services.publicMetrics === true)
  );
}

export function publicRoutes(app: Hono<GatewayEnv>, services: GatewayServices): void {
  app.get('/healthz', (c) =>
    c.json({
      status: 'ok',
      origin: services.origin,
      logSize: services.log.size,
      agentsRunning: services.runtime.running(),
    }),
  );

  app.get('/metrics', (c) => {
    if (services.publicMetrics !== true) requireScope(c.get('principal'), 'audit:read');
    return c.body(services.metrics.render(), 200, { 'content-type': PROMETHEUS_CONTENT_TYPE });
  });

  // The published checkpoint (the one the tiles on disk match), as c2sp tlog-tiles clients expect.
  app.get('/v1/log/checkpoint', async (c) => {
    let text: string;
    try {
      text = await readFile(join(services.logDir, 'checkpoint'), 'utf8');
    } catch {
      throw httpError('NOT_FOUND', 'the log has not published a checkpoint yet');
    }
    return c.body(text, 200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  });

  app.get('/v1/log/tile/*', async (c) => {
    const path = c.req.path.slice('/v1/log/'.length);
    const tile = await readTile(services.logDir, path);
    if (tile === undefined) throw httpError('NOT_FOUND', 'no such tile');
    return c.body(new Uint8Array(tile), 200, {
      'content-type': 'application/octet-stream',
      'cache-control': tileCacheControl(path),
    });
  });

  app.get('/v1/receipts/:index', async (c) => {
    const text = c.req.param('index');
    if (!/^(0|[1-9][0-9]{0,15})$/.test(text))
      throw httpError('BAD_REQUEST', 'a receipt index is a non-negative integer');
    const index = Number(text);
    if (index >= services.log.size)
      throw httpError('NOT_FOUND', `no receipt ${index}: the log has ${services.log.size} entries`);
    const bytes = await services.log.entry(index);
    return c.json({
      index,
      origin: services.origin,
      envelope: JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>,
      proof: services.log.proofFile(index),
      logKey: services.log.verifierKey,
    });
  });
}
