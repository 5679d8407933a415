import { type Cidr, cidrContains, parseCidr } from './cidr.js';
import { isSubdomainOf } from './host.js';
import { embeddedIpv4, parseIp } from './ip.js';

/**
 * Destinations no workload reaches unless the allowlist names them exactly:
 * the host itself, the cloud metadata service, private networks. A wildcard
 * allowlist entry never opens these; `169.254.169.254` must be written out.
 */
const SPECIAL_BLOCKS: readonly (readonly [string, string])[] = [
  ['0.0.0.0/8', 'this-network (0.0.0.0/8)'],
  ['10.0.0.0/8', 'private (RFC 1918)'],
  ['100.64.0.0/10', 'carrier-grade NAT (100.64.0.0/10)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local (169.254.0.0/16, cloud metadata)'],
  ['172.16.0.0/12', 'private (RFC 1918)'],
  ['192.168.0.0/16', 'private (RFC 1918)'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved (240.0.0.0/4, broadcast)'],
  ['::/128', 'unspecified (::)'],
  ['::1/128', 'loopback (::1)'],
  ['fc00::/7', 'unique local (fc00::/7)'],
  ['fe80::/10', 'link-local (fe80::/10)'],
  ['fec0::/10', 'site-local (fec0::/10)'],
  ['ff00::/8', 'multicast'],
];

const BLOCKS: readonly (readonly [Cidr, string])[] = SPECIAL_BLOCKS.map(([text, label]) => {
  const block = parseCidr(text);
  if (block === undefined) throw new Error(`bad built-in block ${text}`);
  return [block, label] as const;
});

/** Names that reach the metadata service or the host without being IP literals. */
const SPECIAL_NAMES: readonly string[] = [
  'localhost',
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
];

/**
 * Why `host` (canonical) is denied by default, or undefined if it is an
 * ordinary public destination. Also used by the egress proxy on the addresses
 * a name resolved to, so a public-looking name that resolves to 10.0.0.5 is
 * caught at connect time.
 */
export function specialDestinationReason(host: string): string | undefined {
  const address = parseIp(host);
  if (address === undefined) {
    const name = SPECIAL_NAMES.find((special) => host === special || isSubdomainOf(host, special));
    return name === undefined ? undefined : `${host} is a host-local or metadata name (${name})`;
  }
  const judged = embeddedIpv4(address) ?? address;
  const hit = BLOCKS.find(([block]) => cidrContains(block, judged));
  return hit === undefined ? undefined : `${host} is a ${hit[1]} address`;
}
