import { randomUUID } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import { Hono } from 'hono';
import { failSpan, remoteParent } from '../observability/tracing.js';
import { SIGNED_REQUEST_HEADER } from './api-schemas.js';
import type { GatewayEnv } from './env.js';
import { httpError, toHttpFailure } from './errors.js';
import { agentRoutes } from './routes-agents.js';
import { contextRoutes } from './routes-context.js';
import { credentialRoutes } from './routes-credentials.js';
import { isPublicPath, publicRoutes } from './routes-public.js';
import { receiptRoutes } from './routes-receipts.js';
import { toolRoutes } from './routes-tools.js';
import type { GatewayServices } from './services.js';

const DEFAULT_MAX_BODY = 1024 * 1024;

/**
 * The gateway's HTTP API as a Hono app (transport-agnostic: `app.fetch` is
 * served by @hono/node-server, and tests may call it directly). Every request
 * gets a span (continuing a W3C traceparent), a latency observation and a log
 * line; every route except the public read-only ones is authenticated.
 */
export function createApp(services: GatewayServices): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const maxBody = services.maxBodyBytes ?? DEFAULT_MAX_BODY;

  app.use('*', async (c, next) => {
    const started = performance.now();
    const requestId = randomUUID();
    c.set('requestId', requestId);
    const span = services.tracing.start(
      `HTTP ${c.req.method}`,
      remoteParent(c.req.header('traceparent')),
      { 'http.request.method': c.req.method, 'url.path': c.req.path },
      SpanKind.SERVER,
    );
    c.set('span', span);
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
      services.metrics.httpDuration.observe({ method: c.req.method, route, status: String(status) }, seconds);
      c.header('x-request-id', requestId);
      if (services.logger.enabled('debug') || status >= 500) {
        const principal = c.var.principal;
        services.logger[status >= 500 ? 'error' : 'debug']('request', {
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
  });

  app.use('*', async (c, next) => {
    if (services.allowedHosts !== undefined) {
      const host = hostName(c.req.header('host'));
      if (!services.allowedHosts.has(host)) {
        services.metrics.security('warning', 'host_refused');
        throw httpError('HOST_REFUSED', 'the Host header must name the address this gateway listens on');
      }
    }
    const declared = Number(c.req.header('content-length') ?? '0');
    if (declared > maxBody)
      throw httpError('PAYLOAD_TOO_LARGE', `request bodies are limited to ${maxBody} bytes`);
    const body =
      c.req.method === 'GET' || c.req.method === 'HEAD'
        ? new Uint8Array(0)
        : new Uint8Array(await c.req.arrayBuffer());
    if (body.length > maxBody)
      throw httpError('PAYLOAD_TOO_LARGE', `request bodies are limited to ${maxBody} bytes`);
    c.set('body', body);
    if (!isPublicPath(c.req.path, services)) {
      const signedRequest = c.req.header(SIGNED_REQUEST_HEADER);
      c.set(
        'principal',
        await services.auth.authenticate({
          method: c.req.method,
          // Only a signed request needs the exact target (it is what the agent signed).
          target: signedRequest === undefined ? c.req.path : signedTarget(c.req.url),
          authorization: c.req.header('authorization'),
          signedRequest,
          body,
        }),
      );
    }
    await next();
  });

  publicRoutes(app, services);
  agentRoutes(app, services);
  toolRoutes(app, services);
  contextRoutes(app, services);
  credentialRoutes(app, services);
  receiptRoutes(app, services);

  app.notFound((c) =>
    c.json({ error: { code: 'NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}` } }, 404),
  );
  app.onError((error, c) => {
    const failure = toHttpFailure(error);
    if (failure.status >= 500) services.logger.error('request failed', { requestId: c.var.requestId, error });
    if (failure.retryAfterSeconds !== undefined) c.header('retry-after', String(failure.retryAfterSeconds));
    return c.json(failure.body, failure.status as 400);
  });
  return app;
}

function signedTarget(url: string): string {
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
}

function hostName(header: string | undefined): string {
  if (header === undefined) return '';
  if (header.startsWith('[')) return header.slice(0, header.indexOf(']') + 1);
  return header.split(':')[0] ?? '';
}
