import { allow, type Decision, deny } from './decision.js';

/**
 * What counts as this machine's loopback, for every HTTP listener OACP runs
 * (the gateway, the MCP bridge's `--http`): one answer for "may this listener
 * speak plain HTTP" and one for "which Host headers may it accept" (the
 * DNS-rebinding defence). Addresses are canonicalized by the WHATWG URL parser,
 * the same one browsers use to build the Host header they send.
 */

/** A host as in a URL or a Host header: a name, a dotted quad, or a bracketed IPv6 address. */
const HOST_SYNTAX = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)$/;
/** `::ffff:127.x.y.z` as the URL parser writes it. */
const MAPPED_LOOPBACK = /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/;

/**
 * The canonical form of a host (`127.0.0.1`, `[::1]`, `localhost`), or
 * undefined when it is not a plain host: anything carrying a user part, a
 * path, a zone id or other URL syntax is refused rather than interpreted.
 */
export function canonicalHost(host: string): string | undefined {
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  if (!HOST_SYNTAX.test(bracketed)) return undefined;
  try {
    return new URL(`http://${bracketed}/`).hostname;
  } catch {
    return undefined;
  }
}

/**
 * A listen address on loopback: `localhost`, any address in 127.0.0.0/8 (the
 * kernel routes the whole block to `lo`), `::1`, or `::ffff:127.x.y.z`. No
 * other name counts, whatever /etc/hosts says.
 */
export function isLoopbackAddress(host: string): boolean {
  const canonical = canonicalHost(host);
  if (canonical === undefined) return false;
  if (canonical === 'localhost' || canonical === '[::1]') return true;
  if (MAPPED_LOOPBACK.test(canonical)) return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(canonical);
}

/** The host of a Host header (`name`, `name:port`, `[v6]:port`), canonical; undefined when malformed. */
export function hostOfHeader(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^(\[[^\]]*\]|[^:[\]]*)(?::\d{1,5})?$/.exec(header.trim());
  if (match?.[1] === undefined || match[1] === '') return undefined;
  return canonicalHost(match[1]);
}

/**
 * The host of an Origin header (`scheme://host[:port]`), canonical; undefined for `null`, an
 * opaque or non-HTTP origin, or anything malformed.
 */
export function hostOfOrigin(origin: string): string | undefined {
  const match = /^https?:\/\/(\[[^\]]*\]|[^:/[\]]*)(?::\d{1,5})?$/i.exec(origin.trim());
  if (match?.[1] === undefined || match[1] === '') return undefined;
  return canonicalHost(match[1]);
}

/** Decides whether a request's Host header (and Origin header, when a browser sent one) may reach a listener. */
export type HostGuard = (hostHeader: string | undefined, originHeader?: string) => Decision;

/**
 * The Host check of a listener on `listenHost`. On loopback a request must name
 * this listener: `localhost`, `127.0.0.1`, `[::1]` or the listen address itself.
 * A web page that rebinds its own DNS name to 127.0.0.1 still sends that name,
 * so it is refused. A listener on any other address has no such check (it is
 * reachable from the network anyway, and needs TLS).
 */
export function hostGuardFor(listenHost: string): HostGuard {
  if (!isLoopbackAddress(listenHost)) return () => allow('the listener is not on loopback');
  const names = new Set(['localhost', '127.0.0.1', '[::1]', canonicalHost(listenHost) ?? 'localhost']);
  const listed = [...names].join(', ');
  const decide: HostGuard = (header, origin) => {
    const host = hostOfHeader(header);
    if (host === undefined || !names.has(host))
      return deny(`the Host header must name this loopback listener (${listed}): DNS-rebinding defence`);
    // A page of any web origin can make a browser send a simple POST here with a true Host
    // header; the browser names the page in Origin. Only a loopback page may call (any port).
    if (origin !== undefined) {
      const from = hostOfOrigin(origin);
      if (from === undefined || !(names.has(from) || isLoopbackAddress(from)))
        return deny(
          `the Origin header must be a page on this loopback host (${listed}): a web page of another origin may not call this listener`,
        );
    }
    return allow(`Host ${host} names this loopback listener`);
  };
  // A client sends the same Host (and Origin) on every request: the last answer is kept, one
  // entry per guard, so the URL parser (canonicalHost) runs once per change of header and not on
  // each request (~7 µs of a model call's CPU). The answer is a function of the two headers only.
  let last:
    | {
        readonly header: string | undefined;
        readonly origin: string | undefined;
        readonly decision: Decision;
      }
    | undefined;
  return (header, origin) => {
    if (last !== undefined && last.header === header && last.origin === origin) return last.decision;
    const decision = Object.freeze(decide(header, origin));
    last = { header, origin, decision };
    return decision;
  };
}
