import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import type { HostGuard } from '../../../core/loopback.js';
import { guardRequest } from '../../../core/request-target.js';
import type { GatewayMetrics } from '../../observability/gateway-metrics.js';
import type { GatewayEnv } from '../env.js';
import { httpError } from '../errors.js';

/**
 * The DNS-rebinding defence, before anything else is looked at: on a loopback
 * listener the Host header must name the listener (core/loopback.ts, the same
 * check the MCP bridge's HTTP listener makes), and so must the host of an absolute-form
 * request-target. No guard: every Host passes.
 */
export function hostGuard(
  guard: HostGuard | undefined,
  metrics: GatewayMetrics,
): MiddlewareHandler<GatewayEnv> {
  return async function hostGuard(c, next) {
    // The request-target as received: an absolute-form one names a host of its own (request-target.ts).
    const target = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.url;
    const decision =
      guard === undefined
        ? undefined
        : guardRequest(guard, target, c.req.header('host'), c.req.header('origin'));
    if (decision?.effect === 'deny') {
      metrics.security('warning', 'host_refused');
      // Nothing more is read from a client that names another host: a request pipelined behind
      // this one was served on the same connection. Closed, as the bridge's listener does.
      c.header('connection', 'close');
      throw httpError('HOST_REFUSED', decision.reason);
    }
    await next();
  };
}
