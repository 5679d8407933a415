import { isOacpError } from '../../core/errors.js';
import { encodeBase64 } from '../../log/base64.js';
import { listAudit } from '../../node/audit-view.js';
import { httpError } from './errors.js';
import { open, type Route, route, scope } from './route.js';
import type { GatewayServices } from './services.js';

/**
 * The audit view over HTTP, scoped `audit:read`: `GET /v1/receipts?since&tool&agent&decision
 * &before&limit` lists receipts newest first with the same decoding and filters as
 * `oacp log list`; `GET /v1/log/consistency?from&to` (open: hashes only) hands peers
 * (gossip) a consistency proof between two sizes of this log: at most 2 log2(size) hashes,
 * made from the hashes the tree keeps in O(log^2 size) work, for sizes the tree holds only
 * (anything else is a 400 naming the parameter), so no query costs more than a tile.
 */
export function receiptRoutes(services: GatewayServices): Route[] {
  return [
    route('GET', '/v1/receipts', scope('audit:read'), async (c) => {
      const query = c.req.query();
      try {
        return c.json(await listAudit(services.log, query, services.airlockKeys ?? []));
      } catch (error) {
        if (isOacpError(error) && error.code === 'AUDIT_FILTER_INVALID')
          throw httpError('BAD_REQUEST', error.message);
        throw error;
      }
    }),
    route(
      'GET',
      '/v1/log/consistency',
      open('hashes of the tree only, which the public tiles hold anyway; peers gossip with it'),
      async (c) => {
        const from = size(c.req.query('from'), 'from');
        const to = size(c.req.query('to'), 'to');
        const prove = services.log.consistencyProof;
        if (prove === undefined)
          throw httpError('NOT_FOUND', 'this gateway does not serve consistency proofs');
        // Another process on this home (a bridge) may have published a larger checkpoint than
        // this process has read: catch up once (a stat when nothing is new) before refusing.
        if (from <= to && to > services.log.size) await services.log.refresh?.();
        if (from > to || to > services.log.size)
          throw httpError(
            'BAD_REQUEST',
            `from must be at most to, and to at most the log size ${services.log.size}`,
          );
        return c.json({
          from,
          to,
          proof: prove.call(services.log, from, to).map((hash) => encodeBase64(hash)),
        });
      },
    ),
  ];
}

function size(text: string | undefined, name: string): number {
  if (text === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(text) || !Number.isSafeInteger(Number(text)))
    throw httpError('BAD_REQUEST', `${name} is a tree size (a non-negative integer)`);
  return Number(text);
}
