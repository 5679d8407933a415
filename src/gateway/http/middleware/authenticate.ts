import type { MiddlewareHandler } from 'hono';
import { lastClientSource } from '../../../a2a/client-source.js';
import { peerAddressOf } from '../../../core/peer-address.js';
import { SIGNED_REQUEST_HEADER } from '../api-schemas.js';
import type { Authenticator } from '../auth.js';
import type { GatewayEnv } from '../env.js';

/**
 * Who is calling (auth.ts), for a route that is not public. The body is read
 * only for a signed request from a registered agent (the signature covers
 * it); a request with no credentials or an API key is decided on its headers.
 */
export function authenticate(auth: Authenticator): MiddlewareHandler<GatewayEnv> {
  const sourceOf = lastClientSource();
  return async function authenticate(c, next) {
    const signedRequest = c.req.header(SIGNED_REQUEST_HEADER);
    c.set(
      'principal',
      await auth.authenticate({
        method: c.req.method,
        // Only a signed request needs the exact target (it is what the agent signed).
        target: signedRequest === undefined ? c.req.path : signedTarget(c.req.url),
        // Anthropic's SDK sends its key as x-api-key: read it as the bearer key it is.
        authorization: c.req.header('authorization') ?? bearer(c.req.header('x-api-key')),
        signedRequest,
        // c.get, not c.var: hono builds a fresh object of every variable on each read of c.var.
        readBody: c.get('readBody'),
        // Refusals are limited per source: the socket's address (an IPv6 one's /64), as A2A's are.
        source: sourceOf(peerAddressOf(c.env)),
      }),
    );
    await next();
  };
}

function bearer(apiKey: string | undefined): string | undefined {
  return apiKey === undefined ? undefined : `Bearer ${apiKey}`;
}

function signedTarget(url: string): string {
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
}
