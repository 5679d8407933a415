import { type Decision, deny } from './decision.js';
import type { HostGuard } from './loopback.js';

/** `//host…` (or `/\host…`): a path-looking target whose authority a URL parser reads. */
const NETWORK_PATH = /^\/[/\\]/;
const NETWORK_PATH_REASON =
  'the request-target starts with two slashes (//host/…), which URL parsers read as another host, not a path (RFC 9112 §3.2.1, RFC 3986 §3.3): send the path with one leading slash (/…)';

/**
 * The Host guard of a whole request, for both OACP listeners (the gateway, the MCP bridge's
 * `--http`). A request-target in absolute-form (`POST http://evil.example/mcp HTTP/1.1`) names
 * its own host, and RFC 9112 §3.2.2 has an origin server use that host in place of the Host
 * header: checking the Host header alone let a request naming a foreign host through with a
 * true Host line beside it. So that host must pass the guard too, and so must the Host header
 * (a proxy in front may route on it). `target`: the request-target as received (`req.url`);
 * origin-form (`/mcp`) and `*` carry no host. A target of two slashes (`//evil.example/mcp`, or
 * `/\evil.example/mcp`, a backslash being a slash to the URL parser) is no origin-form (RFC 3986
 * §3.3: an absolute path's first segment is not empty) but a network-path reference naming a
 * host, which `new URL(target, base)` reads as that host: the MCP bridge served such a POST at
 * its `/mcp`. It is refused, as is an absolute URL naming another host.
 */
export function guardRequest(
  guard: HostGuard,
  target: string | undefined,
  hostHeader: string | undefined,
  origin: string | undefined,
): Decision {
  const header = guard(hostHeader, origin);
  if (header.effect === 'deny' || target === undefined || target === '*') return header;
  if (target.startsWith('/')) return NETWORK_PATH.test(target) ? deny(NETWORK_PATH_REASON) : header;
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

/**
 * A request-target with the scheme of its absolute-form in lower case, any other target as it is.
 * The scheme is case-insensitive (RFC 3986 §3.1, RFC 9110 §4.2.3), so `GET HTTP://127.0.0.1:8080/x`
 * is the request `GET http://127.0.0.1:8080/x`; the gateway's HTTP adapter took the upper-case one
 * for no URL and answered 400. Both listeners set `req.url` to it before anything reads the target.
 */
export function withLowerScheme(target: string): string {
  const scheme = /^https?:\/\//i.exec(target)?.[0];
  return scheme === undefined ? target : scheme.toLowerCase() + target.slice(scheme.length);
}
