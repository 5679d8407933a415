import { canonicalHost, isSubdomainOf, sameHost } from './host.js';
import { parseIp } from './ip.js';

/**
 * An allowlist entry: `api.example.com` (any port), `api.example.com:443`
 * (that port only), `*.example.com` (subdomains only, never the apex),
 * `[2001:db8::1]:8443`.
 */
export interface HostPattern {
  readonly text: string;
  readonly wildcard: boolean;
  /** Canonical host; for a wildcard, the domain after `*.`. */
  readonly host: string;
  readonly port?: number;
}

export interface Destination {
  readonly host: string;
  readonly port: number;
}

export function parseHostPattern(text: string): HostPattern | undefined {
  const wildcard = text.startsWith('*.');
  const rest = wildcard ? text.slice(2) : text;
  const split = splitPort(rest);
  if (split === undefined) return undefined;
  const host = canonicalHost(split.host);
  if (host === undefined) return undefined;
  // `*.10.0.0.1` would read as "subdomains of an address": meaningless, refuse it.
  if (wildcard && parseIp(host) !== undefined) return undefined;
  return split.port === undefined ? { text, wildcard, host } : { text, wildcard, host, port: split.port };
}

/** `host`, `host:port`, `[v6]`, `[v6]:port`; a bare IPv6 has no port. */
export function splitPort(text: string): { host: string; port?: number } | undefined {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) return undefined;
    const after = text.slice(close + 1);
    if (after === '') return { host: text.slice(0, close + 1) };
    const port = after.startsWith(':') ? parsePort(after.slice(1)) : undefined;
    return port === undefined ? undefined : { host: text.slice(0, close + 1), port };
  }
  const colons = text.split(':').length - 1;
  if (colons !== 1) return { host: text };
  const [host = '', portText = ''] = text.split(':');
  const port = parsePort(portText);
  return port === undefined ? undefined : { host, port };
}

export function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** `destination.host` must already be canonical. */
export function hostPatternMatches(pattern: HostPattern, destination: Destination): boolean {
  if (pattern.port !== undefined && pattern.port !== destination.port) return false;
  return pattern.wildcard
    ? isSubdomainOf(destination.host, pattern.host)
    : sameHost(pattern.host, destination.host);
}

/** Whether every destination `inner` matches is also matched by `outer`. */
export function hostPatternCovers(outer: HostPattern, inner: HostPattern): boolean {
  if (outer.port !== undefined && outer.port !== inner.port) return false;
  if (!outer.wildcard) return !inner.wildcard && sameHost(outer.host, inner.host);
  return isSubdomainOf(inner.host, outer.host) || (inner.wildcard && inner.host === outer.host);
}
