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
const V4_BITS = 0xffffffffn;

/**
 * The IPv4 address an IPv6 address carries and is routed by, so it is judged
 * as that IPv4 host (`::ffff:127.0.0.1` and `2002:7f00:1::` are loopback):
 * - IPv4-mapped `::ffff:0:0/96` and IPv4-compatible `::/96` (but `::` and
 *   `::1` are themselves), low 32 bits;
 * - NAT64 `64:ff9b::/96` (RFC 6052), low 32 bits;
 * - 6to4 `2002::/16` (RFC 3056), bits 16-47;
 * - Teredo `2001::/32` (RFC 4380), the client's address, the low 32 bits
 *   inverted.
 * The local-use NAT64 prefix `64:ff9b:1::/48` carries an address wherever its
 * operator chose, so it is not read here; it is non-public as a whole.
 */
export function embeddedIpv4(address: IpAddress): IpAddress | undefined {
  if (address.version !== 6) return undefined;
  const bits = address.bits;
  const high96 = bits >> 32n;
  const v4 = (value: bigint): IpAddress => ({ version: 4, bits: value & V4_BITS });
  if (high96 === 0xffffn || high96 === 0x64ff9bn << 64n) return v4(bits);
  if (high96 === 0n) return bits > 1n ? v4(bits) : undefined;
  if (bits >> 112n === 0x2002n) return v4(bits >> 80n);
  if (bits >> 96n === 0x20010000n) return v4(~bits);
  return undefined;
}

export function formatIpv4(address: IpAddress): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((address.bits >> shift) & 0xffn)).join('.');
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
