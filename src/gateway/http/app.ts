import { Hono } from 'hono';
import { BodyBytes } from '../../core/body-bytes.js';
import { echoText } from '../../core/redact.js';
import { allowedMethods } from './allowed-methods.js';
import { type GatewayEnv, MAX_BODY_DEPTH } from './env.js';
import { httpError, refusalOf, toHttpFailure } from './errors.js';
import type { RefuseRequest } from './listener-refusal.js';
import { authenticate } from './middleware/authenticate.js';
import { authorize } from './middleware/authorize.js';
import { bodyLimit, preread, type RefuseUnread } from './middleware/body-limit.js';
import { hostGuard } from './middleware/host-guard.js';
import { telemetry } from './middleware/telemetry.js';
import type { Access, DeclaredRoute, Method, Route } from './route.js';
import { agentRoutes } from './routes-agents.js';
import { approvalRoutes } from './routes-approvals.js';
import { clusterRoutes } from './routes-cluster.js';
import { consoleRoutes } from './routes-console.js';
import { contextRoutes } from './routes-context.js';
import { credentialRoutes } from './routes-credentials.js';
import { modelRoutes } from './routes-models.js';
import { publicRoutes } from './routes-public.js';
import { receiptStreamRoutes } from './routes-receipt-stream.js';
import { receiptRoutes } from './routes-receipts.js';
import { toolRoutes } from './routes-tools.js';
import type { GatewayServices } from './services.js';

const DEFAULT_MAX_BODY = 1024 * 1024;

/** A sub-application served under the gateway's middleware, with one declared access for all its routes. */
export interface Mount {
  readonly app: Hono;
  readonly access: Access;
  /**
   * Answers a request whose body is over the gateway's size or nesting limit, in the mount's own
   * protocol (A2A: a JSON-RPC refusal with its receipt); undefined: the gateway's 413 or 400.
   */
  readonly refuseUnread?: RefuseUnread;
  /**
   * Answers the gateway's own refusal of a request to one of the mount's routes (its Host guard,
   * its body limits) in the mount's protocol (A2A: a JSON-RPC error, so an A2A client can act on
   * it); undefined: the gateway's JSON error.
   */
  readonly refuseRequest?: RefuseRequest;
}

export interface GatewayHttp {
  readonly app: Hono<GatewayEnv>;
  /** Every route the app serves, with the access it declares (what the route-table test walks). */
  readonly routes: readonly DeclaredRoute[];
  /** The mounts' answer to a refusal of a request to their routes (the listener's, before the app runs). */
  readonly refuseRequest: RefuseRequest;
}

/** The gateway's own routes, file by file; each declares its access on its own line. */
export function gatewayRoutes(services: GatewayServices): Route[] {
  return [
    // Before publicRoutes: GET /v1/receipts/:index would take "stream" for an index.
    ...receiptStreamRoutes(services),
    ...publicRoutes(services),
    ...agentRoutes(services),
    ...clusterRoutes(services),
    ...toolRoutes(services),
    ...contextRoutes(services),
    ...credentialRoutes(services),
    ...modelRoutes(services),
    ...receiptRoutes(services),
    ...approvalRoutes(services),
    ...consoleRoutes(services),
  ];
}

/**
 * The gateway's HTTP API as a Hono app (transport-agnostic: `app.fetch` is
 * served by @hono/node-server, and tests may call it directly). Every request
 * passes, in order: telemetry, the Host guard, the streaming body limit (each body's
 * bytes and nesting, and the bytes of every body being read at once); then,
 * per route, authentication and the route's declared access; then the handler.
 */
export function createApp(services: GatewayServices, mounts: readonly Mount[] = []): GatewayHttp {
  const app = new Hono<GatewayEnv>();
  const refuseRequest = anyMountRefusal(mounts);
  app.use('*', telemetry(services));
  app.use('*', hostGuard(services.hostGuard, services.metrics));
  const maxBytes = services.maxBodyBytes ?? DEFAULT_MAX_BODY;
  // One budget for every route of this listener, the public A2A mount's included (core/body-bytes.ts).
  const held = new BodyBytes(services.maxBodyBytesInFlight ?? 16 * maxBytes);
  app.use('*', bodyLimit({ maxBytes, maxDepth: MAX_BODY_DEPTH, held }, anyMount(mounts)));

  const declared: DeclaredRoute[] = [];
  for (const { method, path, access, handler, refused } of gatewayRoutes(services)) {
    if (access.kind === 'public') app.on(method, path, handler);
    else {
      const allowed = authorize(access, services.agents, path, refused);
      app.on(method, path, authenticate(services.auth), allowed, handler);
    }
    declared.push({ method, path, access });
  }
  for (const mount of mounts) {
    for (const { method, path } of mount.app.routes) {
      if (method === 'ALL') continue;
      app.on(method, path, preread(mount.refuseUnread));
      declared.push({ method: method as Method, path, access: mount.access });
    }
    app.route('/', mount.app);
  }

  const methodsAt = allowedMethods(declared);
  app.notFound((c) => {
    // Through the one error map, so the caller's path is redacted (a key pasted into a URL) and cut short.
    const path = echoText(c.req.path);
    const allowed = methodsAt(c.req.path);
    if (allowed.length > 0) {
      const message = `${c.req.method} is not allowed at ${path}: it takes ${allowed.join(', ')}`;
      const failure = toHttpFailure(httpError('METHOD_NOT_ALLOWED', message));
      return c.json(failure.body, failure.status, { allow: allowed.join(', ') });
    }
    const failure = toHttpFailure(httpError('NOT_FOUND', `no route ${c.req.method} ${path}`));
    return c.json(failure.body, failure.status);
  });
  app.onError((error, c) => {
    const failure = toHttpFailure(error, services.secrets);
    if (failure.status >= 500) services.logger.error('request failed', { requestId: c.var.requestId, error });
    const answer = refuseRequest(c.req.raw, refusalOf(failure));
    if (answer !== undefined) return answer;
    if (failure.retryAfterSeconds !== undefined) c.header('retry-after', String(failure.retryAfterSeconds));
    return c.json(failure.body, failure.status);
  });
  return { app, routes: declared, refuseRequest };
}

/** The first mount that answers a refusal in its own protocol (each answers only for its own routes). */
function anyMountRefusal(mounts: readonly Mount[]): RefuseRequest {
  return (request, refusal) => {
    for (const mount of mounts) {
      const answer = mount.refuseRequest?.(request, refusal);
      if (answer !== undefined) return answer;
    }
    return undefined;
  };
}

/** The first mount that answers a body refused unread (each answers only for its own routes). */
function anyMount(mounts: readonly Mount[]): RefuseUnread {
  return async (request, reason, env) => {
    for (const mount of mounts) {
      const answer = await mount.refuseUnread?.(request, reason, env);
      if (answer !== undefined) return answer;
    }
    return undefined;
  };
}
