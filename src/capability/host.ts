import { parseIp, parseIpv6 } from './ip.js';

/**
 * One spelling per host, so `Example.COM.`, `example.com` and `http://2130706433`
 * are compared as what they resolve to textually: lower case, no trailing dot,
 * IPv4 in dotted-quad form, IPv6 without brackets. Undefined for anything that
 * is not a plain host name or IP literal (userinfo, paths, spaces...), because
 * a checker that guesses is a checker that can be steered.
 */
export function canonicalHost(text: string): string | undefined {
  if (text.startsWith('[') && text.endsWith(']')) {
    const inner = text.slice(1, -1);
    return parseIpv6(inner) === undefined ? undefined : inner.toLowerCase();
  }
  if (text.includes(':')) return parseIpv6(text) === undefined ? undefined : text.toLowerCase();
  if (!/^[A-Za-z0-9.-]+$/.test(text) || text.length > 253) return undefined;
  let hostname: string;
  try {
    hostname = new URL(`http://${text}/`).hostname;
  } catch {
    return undefined;
  }
  const bare = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
  if (bare === '' || bare.split('.').some((label) => label === '' || label.length > 63)) return undefined;
  return bare;
}

/** Two canonical hosts name the same thing (IP literals compare as numbers). */
export function sameHost(a: string, b: string): boolean {
  if (a === b) return true;
  const ipA = parseIp(a);
  const ipB = parseIp(b);
  return ipA !== undefined && ipB !== undefined && ipA.version === ipB.version && ipA.bits === ipB.bits;
}

/** Whether `host` is `domain` or one of its subdomains (canonical inputs). */
export function isSubdomainOf(host: string, domain: string): boolean {
  return host.endsWith(`.${domain}`);
}
