import { z } from 'zod';
import { parseBody } from './env.js';
import { httpError } from './errors.js';
import { type Route, route, scope } from './route.js';
import type { GatewayServices } from './services.js';

const DecideSchema = z.strictObject({
  approve: z.boolean({ error: 'true or false' }),
  reason: z.string().max(500, 'at most 500 characters').default(''),
});

/**
 * The gateway's approval queue (`require_approval` on a configured MCP server):
 * `GET /v1/approvals` lists the calls waiting, `POST /v1/approvals/:id` decides
 * one. Only an operator's API key holding `approvals:decide` decides, and the
 * receipt records that key as the approver (docs/console.md).
 */
export function approvalRoutes(services: GatewayServices): Route[] {
  const queue = () => {
    if (services.approvals === undefined) throw httpError('NOT_FOUND', 'this gateway has no approval queue');
    return services.approvals;
  };
  return [
    route('GET', '/v1/approvals', scope('approvals:decide'), async (c) =>
      c.json({ pending: await queue().pending() }),
    ),

    route('POST', '/v1/approvals/:id', scope('approvals:decide'), async (c) => {
      const principal = c.get('principal');
      if (principal.kind !== 'api-key') throw httpError('FORBIDDEN', 'approvals are decided with an API key');
      const body = await parseBody(c, DecideSchema);
      const answer = await queue().answer(
        c.req.param('id') ?? '',
        {
          keyId: principal.keyId,
          ...(principal.agentId === undefined ? {} : { agentId: principal.agentId }),
        },
        body.approve,
        body.reason,
      );
      if (answer.effect === 'deny') throw httpError(answer.code, answer.reason);
      services.logger.info('approval decided', {
        id: answer.id,
        approved: answer.approved,
        key: principal.keyId,
      });
      return c.json({ id: answer.id, approved: answer.approved, by: `api-key:${principal.keyId}` });
    }),
  ];
}
