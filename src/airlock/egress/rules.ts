import { specialDestinationReason } from '../../capability/address-policy.js';
import { embeddedIpv4, type IpAddress, parseIp } from '../../capability/ip.js';
import type { NetworkPolicy } from '../../capability/network-policy.js';
import { type Decision, deny } from '../../core/decision.js';
import { type HostAddresses, interfaceAddresses } from './host-addresses.js';

export interface Destination {
  readonly host: string;
  readonly port: number;
}

/** What the proxy asks before connecting; `NetworkPolicy` is the production implementation. */
export interface EgressRules {
  decide(destination: Destination): Decision;
  /** Asked for every address the host resolved to, after `decide` allowed the host. */
  decideAddress(destination: Destination, address: string): Decision;
}

/**
 * The manifest's network policy with one rule added for the proxy: a host
 * *name* that resolves to a loopback, private, link-local or metadata address,
 * or to any address of this host's own interfaces (public ones too: the proxy
 * dials from the host, so they reach its daemons like loopback does), is
 * refused even when the allowlist names it, because whoever controls its DNS
 * can repoint it (rebinding). Such destinations must be allowlisted by their
 * IP literal.
 */
export function proxyRules(
  policy: NetworkPolicy,
  hostAddresses: HostAddresses = interfaceAddresses,
): EgressRules {
  return {
    decide: (destination) => policy.decide(destination),
    decideAddress(destination, address) {
      const decision = policy.decideAddress(destination, address);
      if (decision.effect === 'deny' || parseIp(destination.host) !== undefined) return decision;
      // This host first: its own public-looking address (a documentation one on CI) is named as such.
      const special = ownAddressReason(address, hostAddresses()) ?? specialDestinationReason(address);
      if (special !== undefined) {
        return deny(
          `${destination.host} resolved to ${address}: ${special}; a name never reaches such an address (allowlist the IP literal instead)`,
          'airlock.egress',
        );
      }
      return decision;
    },
  };
}

function ownAddressReason(address: string, own: readonly string[]): string | undefined {
  const target = judged(address);
  if (target === undefined) return undefined;
  const mine = own.some((text) => {
    const candidate = judged(text);
    return candidate !== undefined && candidate.version === target.version && candidate.bits === target.bits;
  });
  return mine ? `${address} is an address of this host` : undefined;
}

/** `::ffff:192.0.2.2` is the same host as `192.0.2.2`. */
function judged(text: string): IpAddress | undefined {
  const ip = parseIp(text);
  return ip === undefined ? undefined : (embeddedIpv4(ip) ?? ip);
}
