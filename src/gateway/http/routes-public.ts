import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { logError } from '../../log/errors.js';
import { PROMETHEUS_CONTENT_TYPE } from '../observability/registry.js';
import { httpError } from './errors.js';
import { open, type Route, route, scope } from './route.js';
import type { GatewayServices } from './services.js';
import { isTilePath, readTile, tileCacheControl } from './tiles.js';

export const LOG_IS_PUBLIC = open('receipts and the log hold digests only, and exist to be read by anyone');

/** Health, metrics, and the log read-only: receipts by index, the checkpoint and the c2sp tiles. */
export function publicRoutes(services: GatewayServices): Route[] {
  return [
    route('GET', '/healthz', open('liveness for load balancers'), (c) =>
      c.json({
        status: 'ok',
        origin: services.origin,
        logSize: services.log.size,
        agentsRunning: services.runtime.running(),
      }),
    ),

    route(
      'GET',
      '/metrics',
      services.publicMetrics === true
        ? open('publicMetrics: a scraper on a private network')
        : scope('audit:read'),
      (c) => c.body(services.metrics.render(), 200, { 'content-type': PROMETHEUS_CONTENT_TYPE }),
    ),

    // The published checkpoint (the one the tiles on disk match), as c2sp tlog-tiles clients expect.
    route('GET', '/v1/log/checkpoint', LOG_IS_PUBLIC, async (c) =>
      c.body(await publishedCheckpoint(services), 200, {
        'content-type': 'text/plain; charset=utf-8',
        'cache-control': 'no-store',
      }),
    ),

    // The witness side of gossip: this node's cosigning key, its latest cosigned checkpoint and
    // who cosigned it, the peers' checkpoints it cosigned, and which peers it no longer trusts.
    route('GET', '/v1/log/witness', LOG_IS_PUBLIC, async (c) => {
      const gossip = services.gossip;
      if (gossip === undefined)
        throw httpError('NOT_FOUND', 'this gateway gossips with no peers (log.peers, cluster)');
      const text = await readFile(join(services.logDir, 'checkpoint'), 'utf8').catch(() => '');
      return c.json({ ...gossip.view(text), forks: gossip.forksSeen() });
    }),

    route('GET', '/v1/log/tile/*', LOG_IS_PUBLIC, async (c) => {
      const path = c.req.path.slice('/v1/log/'.length);
      // A malformed path is the client's mistake (400), a well-formed one the log lacks a 404.
      if (!isTilePath(path))
        throw httpError(
          'BAD_REQUEST',
          'not a tlog-tiles path: tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>], L 0-63, N in 3-digit groups with x on all but the last, W 1-255, no leading zeros',
        );
      const tile = await readTile(services.logDir, path);
      // A tile cut short, altered or deleted on disk is refused when served, not only on open.
      const verdict = await services.log.checkTile(path, tile);
      if (verdict !== 'ok' && typeof verdict === 'object') {
        services.metrics.security('critical', 'log_tile_damaged');
        services.logger.error('a damaged tile was refused', { tile: path, problem: verdict.damaged });
        throw logError(
          'LOG_CORRUPT',
          `tile ${path} does not match the log (${verdict.damaged}); run oacp log fsck`,
        );
      }
      if (tile === undefined || verdict !== 'ok') throw httpError('NOT_FOUND', 'no such tile');
      return c.body(new Uint8Array(tile), 200, {
        'content-type': 'application/octet-stream',
        // Set here, not left to the server, so a HEAD (which carries no body) says it too.
        'content-length': String(tile.length),
        'cache-control': tileCacheControl(path),
      });
    }),

    route('GET', '/v1/receipts/:index', LOG_IS_PUBLIC, async (c) =>
      c.json(await receiptWithProof(services, c.req.param('index') ?? '')),
    ),
  ];
}

/** The published checkpoint (the one the tiles on disk match), with the cosignatures peers returned for it. */
export async function publishedCheckpoint(services: GatewayServices): Promise<string> {
  let text: string;
  try {
    text = await readFile(join(services.logDir, 'checkpoint'), 'utf8');
  } catch {
    throw httpError('NOT_FOUND', 'the log has not published a checkpoint yet');
  }
  // c2sp tlog-cosignature: the cosignatures for exactly this checkpoint.
  return services.gossip?.withCosignatures(text) ?? text;
}

/** Receipt `text` (a decimal index) of this node's log with its inclusion proof. */
export async function receiptWithProof(services: GatewayServices, text: string) {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(text))
    throw httpError('BAD_REQUEST', 'a receipt index is a non-negative integer');
  const index = Number(text);
  if (index >= services.log.size)
    throw httpError('NOT_FOUND', `no receipt ${index}: the log has ${services.log.size} entries`);
  const bytes = await services.log.entry(index);
  return {
    index,
    origin: services.origin,
    envelope: JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>,
    proof: await services.log.proofFile(index),
    logKey: services.log.verifierKey,
  };
}
