import { randomUUID } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import type { MiddlewareHandler } from 'hono';
import type { GatewayMetrics } from '../../observability/gateway-metrics.js';
import type { Logger } from '../../observability/logger.js';
import { failSpan, remoteParent, type Tracing } from '../../observability/tracing.js';
import type { GatewayEnv } from '../env.js';

export interface TelemetryParts {
  readonly tracing: Tracing;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
}

/**
 * First of all: every request, refused or not, gets a request id, a span
 * (continuing a W3C traceparent), a latency observation by route and status,
 * and a log line (debug, or error for a 5xx).
 */
export function telemetry({ tracing, metrics, logger }: TelemetryParts): MiddlewareHandler<GatewayEnv> {
  return async function telemetry(c, next) {
    const started = performance.now();
    const requestId = randomUUID();
    c.set('requestId', requestId);
    const span = tracing.start(
      `HTTP ${c.req.method}`,
      remoteParent(c.req.header('traceparent')),
      { 'http.request.method': c.req.method, 'url.path': c.req.path },
      SpanKind.SERVER,
    );
    c.set('span', span);
    // Set before the response exists, so c.json() and c.text() build it with the header; setting
    // it afterwards makes Hono copy the whole response (see below for responses built by hand).
    c.header('x-request-id', requestId);
    try {
      await next();
    } finally {
      const route = c.req.routePath || 'unmatched';
      const status = c.res.status;
      span.updateName(`${c.req.method} ${route}`);
      span.setAttribute('http.route', route);
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) failSpan(span, { code: `HTTP_${status}` });
      span.end();
      const seconds = (performance.now() - started) / 1000;
      metrics.httpDuration.observe({ method: c.req.method, route, status: String(status) }, seconds);
      if (c.res.headers.get('x-request-id') !== requestId) c.header('x-request-id', requestId);
      if (logger.enabled('debug') || status >= 500) {
        const principal = c.var.principal;
        logger[status >= 500 ? 'error' : 'debug']('request', {
          requestId,
          method: c.req.method,
          path: c.req.path,
          status,
          ms: Math.round(seconds * 1000),
          principal:
            principal === undefined
              ? undefined
              : principal.kind === 'agent'
                ? principal.agent.id
                : `apikey:${principal.keyId}`,
          traceId: span.spanContext().traceId,
        });
      }
    }
  };
}
