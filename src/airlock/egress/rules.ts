import { specialDestinationReason } from '../../capability/address-policy.js';
import { parseIp } from '../../capability/ip.js';
import type { NetworkPolicy } from '../../capability/network-policy.js';
import { type Decision, deny } from '../../core/decision.js';

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
 * *name* that resolves to a loopback, private, link-local or metadata address
 * is refused even when the allowlist names it, because whoever controls its
 * DNS can repoint it (rebinding). Such destinations must be allowlisted by
 * their IP literal.
 */
export function proxyRules(policy: NetworkPolicy): EgressRules {
  return {
    decide: (destination) => policy.decide(destination),
    decideAddress(destination, address) {
      const decision = policy.decideAddress(destination, address);
      if (decision.effect === 'deny') return decision;
      const special = specialDestinationReason(address);
      if (special !== undefined && parseIp(destination.host) === undefined) {
        return deny(
          `${destination.host} resolved to ${address}: ${special}; a name never reaches such an address (allowlist the IP literal instead)`,
          'airlock.egress',
        );
      }
      return decision;
    },
  };
}
