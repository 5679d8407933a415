import { type Decision, deny } from './decision.js';
import type { HostGuard } from './loopback.js';

/**
 * The Host guard of a whole request, for both OACP listeners (the gateway, the MCP bridge's
 * `--http`). A request-target in absolute-form (`POST http://evil.example/mcp HTTP/1.1`) names
 * its own host, and RFC 9112 §3.2.2 has an origin server use that host in place of the Host
 * header: checking the Host header alone let a request naming a foreign host through with a
 * true Host line beside it. So that host must pass the guard too, and so must the Host header
 * (a proxy in front may route on it). `target`: the request-target as received (`req.url`);
 * origin-form (`/mcp`) and `*` carry no host.
 */
export function guardRequest(
  guard: HostGuard,
  target: string | undefined,
  hostHeader: string | undefined,
  origin: string | undefined,
): Decision {
  const header = guard(hostHeader, origin);
  if (header.effect === 'deny' || target === undefined || target.startsWith('/') || target === '*')
    return header;
  const authority = /^https?:\/\/([^/?#]*)/i.exec(target)?.[1];
  if (authority === undefined)
    return deny('the request-target must be a path (/…) or an absolute http URL (RFC 9112 §3.2)');
  // A user part is URL syntax no Host header carries: refused rather than interpreted.
  const named = authority.includes('@') ? undefined : guard(authority, origin);
  if (named?.effect === 'allow') return header;
  return deny(
    `the request-target is an absolute URL naming another host; RFC 9112 §3.2.2 makes it the request's host, so it must name this loopback listener as the Host header does: send the path alone (/…)`,
  );
}
