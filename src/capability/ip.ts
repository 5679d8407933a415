/**
 * IP address parsing for the network checks. Addresses become bigints so one
 * prefix comparison serves IPv4 and IPv6. Only canonical textual forms are
 * accepted here; callers that take URLs let the WHATWG URL parser turn forms
 * like `http://2130706433/` into dotted quads first (see `canonicalHost`).
 */
export interface IpAddress {
  readonly version: 4 | 6;
  readonly bits: bigint;
}

const V4_PART = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function parseIpv4(text: string): IpAddress | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let bits = 0n;
  for (const part of parts) {
    if (!V4_PART.test(part)) return undefined;
    bits = (bits << 8n) | BigInt(Number(part));
  }
  return { version: 4, bits };
}

/** Accepts `::`-compression and a dotted-quad tail; refuses zone ids (`%eth0`). */
export function parseIpv6(text: string): IpAddress | undefined {
  if (text.includes('%') || !/^[0-9A-Fa-f:.]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (head === undefined || tail === undefined) return undefined;
  const count = head.length + tail.length;
  if (halves.length === 1 ? count !== 8 : count > 7) return undefined;
  const all = [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  let bits = 0n;
  for (const group of all) bits = (bits << 16n) | BigInt(group);
  return { version: 6, bits };
}

function groups(text: string): number[] | undefined {
  if (text === '') return [];
  const parts = text.split(':');
  const out: number[] = [];
  for (const [index, part] of parts.entries()) {
    if (index === parts.length - 1 && part.includes('.')) {
      const v4 = parseIpv4(part);
      if (v4 === undefined) return undefined;
      out.push(Number(v4.bits >> 16n), Number(v4.bits & 0xffffn));
    } else if (/^[0-9A-Fa-f]{1,4}$/.test(part)) {
      out.push(Number.parseInt(part, 16));
    } else {
      return undefined;
    }
  }
  return out;
}

/** Either family; IPv6 may be written in brackets as in URLs. */
export function parseIp(text: string): IpAddress | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  return bare.includes(':') ? parseIpv6(bare) : parseIpv4(bare);
}

const MAPPED_PREFIX = 0xffffn << 32n;
const NAT64_PREFIX = 0x0064ff9bn << 96n;

/**
 * The IPv4 address hidden in an IPv4-mapped (::ffff:a.b.c.d) or NAT64
 * (64:ff9b::a.b.c.d) IPv6 address, so `::ffff:127.0.0.1` is judged as loopback.
 */
export function embeddedIpv4(address: IpAddress): IpAddress | undefined {
  if (address.version !== 6) return undefined;
  const high = address.bits >> 32n;
  if (high === MAPPED_PREFIX >> 32n || high === NAT64_PREFIX >> 32n) {
    return { version: 4, bits: address.bits & 0xffffffffn };
  }
  return undefined;
}

/**
 * Every spelling of one destination a CIDR block may be written in: the
 * address, the IPv4 address inside a mapped or NAT64 one, and that IPv4
 * address as IPv4-mapped IPv6. So `::ffff:10.0.0.0/104` and `10.0.0.0/8` are
 * the same denylist entry, whichever way the workload writes the target.
 */
export function addressSpellings(address: IpAddress): readonly IpAddress[] {
  const v4 = address.version === 4 ? address : embeddedIpv4(address);
  if (v4 === undefined) return [address];
  const mapped: IpAddress = { version: 6, bits: MAPPED_PREFIX | v4.bits };
  return v4 === address ? [v4, mapped] : [address, v4, mapped];
}
