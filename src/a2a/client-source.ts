import { embeddedIpv4, formatIpv4, parseIp } from '../capability/ip.js';

/**
 * The source a client address counts as for the refusal receipt limits: an IPv4 address as
 * itself (an IPv4-mapped IPv6 one as its IPv4 address), an IPv6 address as its /64, because
 * one subscriber is routinely given a whole /64 and could otherwise take a fresh address for
 * every request. Anything else (no socket, an unparsable address) is one source, `unknown`.
 */
export function clientSource(address: string | undefined): string {
  const ip = address === undefined ? undefined : parseIp(address);
  if (ip === undefined) return 'unknown';
  if (ip.version === 4) return formatIpv4(ip);
  if (ip.bits >> 32n === 0xffffn) return formatIpv4(embeddedIpv4(ip) ?? ip);
  const high = ip.bits >> 64n;
  const groups = [48n, 32n, 16n, 0n].map((shift) => ((high >> shift) & 0xffffn).toString(16));
  return `${groups.join(':')}::/64`;
}

/**
 * clientSource with the last answer kept (one entry): a gateway's requests come again and again
 * from the same few addresses, and parsing one costs a few µs of BigInt work per request.
 */
export function lastClientSource(): (address: string | undefined) => string {
  let last: { readonly address: string | undefined; readonly source: string } | undefined;
  return (address) => {
    if (last !== undefined && last.address === address) return last.source;
    last = { address, source: clientSource(address) };
    return last.source;
  };
}
