import { canonicalHost } from '../../capability/host.js';
import type { Destination } from './rules.js';

/**
 * Where a proxied request wants to go, from a CONNECT authority
 * (`host:port`, `[v6]:port`) or an absolute-form `http://` URL. Undefined for
 * anything else; the host is canonical so checks and connects see one spelling.
 */
export function connectTarget(authority: string): Destination | undefined {
  const match =
    /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(authority) ?? /^([^:[\]]+):(\d{1,5})$/.exec(authority);
  if (match?.[1] === undefined || match[2] === undefined) return undefined;
  return destination(match[1], Number(match[2]));
}

export function httpTarget(url: string): Destination | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'http:' || parsed.username !== '' || parsed.password !== '') return undefined;
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  return destination(host, parsed.port === '' ? 80 : Number(parsed.port));
}

function destination(rawHost: string, port: number): Destination | undefined {
  const host = canonicalHost(rawHost);
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host, port };
}
