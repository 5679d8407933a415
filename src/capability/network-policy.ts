import { allow, type Decision, deny } from '../core/decision.js';
import { specialDestinationReason } from './address-policy.js';
import { type Cidr, cidrContains, parseCidr } from './cidr.js';
import { canonicalHost } from './host.js';
import {
  type Destination,
  type HostPattern,
  hostPatternMatches,
  parseHostPattern,
  parsePort,
} from './host-pattern.js';
import { addressSpellings, type IpAddress, parseIp } from './ip.js';
import type { NetworkGrant } from './manifest.js';

const POLICY = 'capability.network';

type DenyRule =
  | { readonly text: string; readonly cidr: Cidr }
  | { readonly text: string; readonly host: HostPattern };

/**
 * The `network` grant compiled once and asked many times (every fetch, every
 * proxy CONNECT). Order: denylist, then allowlist, then the default-deny
 * address policy, which only an exact (non-wildcard) allowlist entry lifts.
 */
export class NetworkPolicy {
  private constructor(
    private readonly allowRules: readonly HostPattern[],
    private readonly denyRules: readonly DenyRule[],
  ) {}

  /** Entries that fail to parse are skipped; `ManifestSchema` has already refused them. */
  static from(grant: NetworkGrant): NetworkPolicy {
    const allowRules = grant.allowlist.flatMap((text) => {
      const pattern = parseHostPattern(text);
      return pattern === undefined ? [] : [pattern];
    });
    const denyRules = grant.denylist.flatMap((text): DenyRule[] => {
      const cidr = parseCidr(text);
      if (cidr !== undefined) return [{ text, cidr }];
      const host = parseHostPattern(text);
      return host === undefined ? [] : [{ text, host }];
    });
    return new NetworkPolicy(allowRules, denyRules);
  }

  /** May the workload connect to `host:port`? Call again with the resolved address via `decideAddress`. */
  decide(destination: Destination): Decision {
    const host = canonicalHost(destination.host);
    if (host === undefined)
      return deny(`"${destination.host}" is not a valid host name or IP address`, POLICY);
    if (parsePort(String(destination.port)) === undefined) {
      return deny(`port ${destination.port} is not a valid TCP port`, POLICY);
    }
    const target = { host, port: destination.port };
    const label = formatDestination(target);
    const denied = this.denyRules.find((rule) => denyRuleMatches(rule, target));
    if (denied !== undefined) return deny(`${label} is in the network denylist (${denied.text})`, POLICY);
    const matches = this.allowRules.filter((rule) => hostPatternMatches(rule, target));
    const special = specialDestinationReason(host);
    if (matches.length === 0) {
      const also = special === undefined ? '' : ` (and ${special}, denied by default)`;
      return deny(`${label} is not in the network allowlist${also}`, POLICY);
    }
    const exact = matches.find((rule) => !rule.wildcard);
    if (special !== undefined && exact === undefined) {
      return deny(`${special}; denied by default unless the allowlist names it exactly`, POLICY);
    }
    const rule = exact ?? matches[0];
    return allow(`${label} matches allowlist entry ${rule?.text ?? ''}`, POLICY);
  }

  /**
   * Checked after DNS, on each address a name resolved to, so a name on the
   * allowlist cannot be pointed at the metadata service or a private network
   * (DNS rebinding). Private addresses pass only when the allowlist names the
   * host exactly.
   */
  decideAddress(destination: Destination, address: string): Decision {
    const first = this.decide(destination);
    if (first.effect === 'deny') return first;
    const ip = parseIp(address);
    if (ip === undefined) return deny(`resolved address "${address}" is not an IP address`, POLICY);
    const denied = this.denyRules.find((rule) => 'cidr' in rule && cidrMatches(rule.cidr, ip));
    if (denied !== undefined) {
      return deny(
        `${destination.host} resolved to ${address}, which is in the network denylist (${denied.text})`,
        POLICY,
      );
    }
    const special = specialDestinationReason(address);
    if (special === undefined)
      return allow(`${destination.host} resolved to public address ${address}`, POLICY);
    const host = canonicalHost(destination.host) ?? destination.host;
    const exact = this.allowRules.some(
      (rule) => !rule.wildcard && hostPatternMatches(rule, { host, port: destination.port }),
    );
    return exact
      ? allow(
          `${destination.host} resolved to ${address}; allowed because the allowlist names it exactly`,
          POLICY,
        )
      : deny(`${destination.host} resolved to ${address}: ${special}; denied by default`, POLICY);
  }
}

function denyRuleMatches(rule: DenyRule, target: Destination): boolean {
  if ('host' in rule) return hostPatternMatches(rule.host, target);
  const ip = parseIp(target.host);
  return ip !== undefined && cidrMatches(rule.cidr, ip);
}

function cidrMatches(block: Cidr, ip: IpAddress): boolean {
  return addressSpellings(ip).some((spelling) => cidrContains(block, spelling));
}

function formatDestination(target: Destination): string {
  return target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}
