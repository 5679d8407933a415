import { type Cidr, cidrContains, parseCidr } from './cidr.js';
import { isSubdomainOf } from './host.js';
import { embeddedIpv4, formatIpv4, type IpAddress, parseIp } from './ip.js';

/**
 * Destinations no workload reaches unless the allowlist names them exactly:
 * the host itself, the cloud metadata service, private networks, and every
 * block that is not publicly routable (documentation, benchmarking, reserved,
 * multicast), so "public" means what the IANA special-purpose registries
 * leave over. An IPv6 address carrying an IPv4 one (mapped, compatible, NAT64,
 * 6to4, Teredo) is judged by the IPv4 address too. A wildcard
 * allowlist entry never opens these; `169.254.169.254` must be written out.
 */
const SPECIAL_BLOCKS: readonly (readonly [string, string])[] = [
  ['0.0.0.0/8', 'this-network (0.0.0.0/8)'],
  ['10.0.0.0/8', 'private (RFC 1918)'],
  ['100.64.0.0/10', 'carrier-grade NAT (100.64.0.0/10)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local (169.254.0.0/16, cloud metadata)'],
  ['172.16.0.0/12', 'private (RFC 1918)'],
  ['192.0.0.0/24', 'IETF protocol assignment (192.0.0.0/24)'],
  ['192.0.2.0/24', 'documentation (192.0.2.0/24)'],
  ['192.88.99.0/24', 'deprecated 6to4 relay anycast (192.88.99.0/24)'],
  ['192.168.0.0/16', 'private (RFC 1918)'],
  ['198.18.0.0/15', 'benchmarking (198.18.0.0/15)'],
  ['198.51.100.0/24', 'documentation (198.51.100.0/24)'],
  ['203.0.113.0/24', 'documentation (203.0.113.0/24)'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved (240.0.0.0/4, broadcast)'],
  ['::/128', 'unspecified (::)'],
  ['::1/128', 'loopback (::1)'],
  ['64:ff9b:1::/48', 'local-use NAT64 (64:ff9b:1::/48)'],
  ['100::/64', 'discard-only (100::/64)'],
  ['100:0:0:1::/64', 'dummy prefix (100:0:0:1::/64)'],
  ['2001:2::/48', 'benchmarking (2001:2::/48)'],
  ['2001:10::/28', 'deprecated ORCHID (2001:10::/28)'],
  ['2001:db8::/32', 'documentation (2001:db8::/32)'],
  ['3fff::/20', 'documentation (3fff::/20)'],
  ['5f00::/16', 'segment routing SIDs (5f00::/16)'],
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
  const own = blockLabel(address);
  if (own !== undefined) return `${host} is a ${own} address`;
  // An IPv6 address that carries an IPv4 one reaches that IPv4 host.
  const carried = embeddedIpv4(address);
  const label = carried === undefined ? undefined : blockLabel(carried);
  return carried === undefined || label === undefined
    ? undefined
    : `${host} carries ${formatIpv4(carried)}, a ${label} address`;
}

function blockLabel(address: IpAddress): string | undefined {
  return BLOCKS.find(([block]) => cidrContains(block, address))?.[1];
}

/** Names distributions' /etc/hosts give to loopback, besides `localhost` itself. */
const LOOPBACK_NAMES: readonly string[] = [
  'localhost',
  'localhost.localdomain',
  'localhost6',
  'localhost6.localdomain6',
  'ip6-localhost',
  'ip6-loopback',
];

/** Addresses that, dialed from the host, reach the host itself (Linux dials 0.0.0.0 and :: as loopback). */
const HOST_ITSELF: readonly Cidr[] = ['0.0.0.0/8', '127.0.0.0/8', '::/128', '::1/128'].map((text) => {
  const block = parseCidr(text);
  if (block === undefined) throw new Error(`bad built-in block ${text}`);
  return block;
});

/**
 * Why an allowlist entry's `host` (canonical) names the host's own loopback:
 * `localhost` and its subdomains, 127.0.0.0/8, ::1, the unspecified
 * addresses, and IPv6 that carries one of those. The egress proxy dials from
 * the host, so such an entry never means the sandbox's own loopback.
 */
export function hostLoopbackReason(host: string): string | undefined {
  const address = parseIp(host);
  if (address === undefined) {
    return LOOPBACK_NAMES.some((name) => host === name || isSubdomainOf(host, name))
      ? `${host} is a loopback name`
      : undefined;
  }
  const judged = [address, embeddedIpv4(address)].filter((ip) => ip !== undefined);
  return judged.some((ip) => HOST_ITSELF.some((block) => cidrContains(block, ip)))
    ? `${host} is a loopback or unspecified address`
    : undefined;
}
