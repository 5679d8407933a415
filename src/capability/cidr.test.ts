import { describe, expect, it } from 'vitest';
import { cidrContains, cidrCovers, parseCidr } from './cidr.js';
import { embeddedIpv4, parseIp } from './ip.js';

function ip(text: string) {
  const parsed = parseIp(text);
  if (parsed === undefined) throw new Error(`test address ${text} did not parse`);
  return parsed;
}

function block(text: string) {
  const parsed = parseCidr(text);
  if (parsed === undefined) throw new Error(`test block ${text} did not parse`);
  return parsed;
}

describe('IP parsing', () => {
  it('parses IPv4 and refuses malformed quads', () => {
    expect(ip('10.1.2.3').bits).toBe(0x0a010203n);
    for (const bad of ['10.1.2', '10.1.2.256', '010.1.2.3', '1.2.3.4.5', 'a.b.c.d', '']) {
      expect(parseIp(bad)).toBeUndefined();
    }
  });

  it('parses IPv6 with compression, brackets and dotted tails', () => {
    expect(ip('::1').bits).toBe(1n);
    expect(ip('[::1]').bits).toBe(1n);
    expect(ip('fe80::1').bits).toBe((0xfe80n << 112n) | 1n);
    expect(ip('::ffff:127.0.0.1').bits).toBe((0xffffn << 32n) | 0x7f000001n);
    expect(ip('1:2:3:4:5:6:7:8').bits).toBe(0x00010002000300040005000600070008n);
    for (const bad of ['1::2::3', '1:2:3:4:5:6:7:8:9', 'fe80::1%eth0', '12345::', 'g::1', '1:2:3:4:5:6:7']) {
      expect(parseIp(bad)).toBeUndefined();
    }
  });

  it('finds the IPv4 address inside mapped and NAT64 addresses', () => {
    expect(embeddedIpv4(ip('::ffff:169.254.169.254'))?.bits).toBe(ip('169.254.169.254').bits);
    expect(embeddedIpv4(ip('64:ff9b::a00:1'))?.bits).toBe(ip('10.0.0.1').bits);
    expect(embeddedIpv4(ip('::7f00:1'))?.bits).toBe(ip('127.0.0.1').bits);
    expect(embeddedIpv4(ip('2002:a9fe:a9fe::1'))?.bits).toBe(ip('169.254.169.254').bits);
    expect(embeddedIpv4(ip('2001:0:4136:e378:8000:63bf:80ff:fffe'))?.bits).toBe(ip('127.0.0.1').bits);
    expect(embeddedIpv4(ip('::1'))).toBeUndefined();
    expect(embeddedIpv4(ip('::'))).toBeUndefined();
    expect(embeddedIpv4(ip('2001:db8::1'))).toBeUndefined();
  });
});

describe('CIDR blocks', () => {
  it('matches addresses inside the block and not outside, per family', () => {
    expect(cidrContains(block('10.0.0.0/8'), ip('10.255.0.1'))).toBe(true);
    expect(cidrContains(block('10.0.0.0/8'), ip('11.0.0.1'))).toBe(false);
    expect(cidrContains(block('100.64.0.0/10'), ip('100.127.255.255'))).toBe(true);
    expect(cidrContains(block('100.64.0.0/10'), ip('100.128.0.0'))).toBe(false);
    expect(cidrContains(block('fd00::/8'), ip('fd12:3456::1'))).toBe(true);
    expect(cidrContains(block('fd00::/8'), ip('fe00::1'))).toBe(false);
    expect(cidrContains(block('0.0.0.0/0'), ip('::1'))).toBe(false);
  });

  it('treats a bare address as a single-address block and clears host bits', () => {
    expect(cidrContains(block('192.0.2.7'), ip('192.0.2.7'))).toBe(true);
    expect(cidrContains(block('192.0.2.7'), ip('192.0.2.8'))).toBe(false);
    expect(block('10.1.2.3/8').base).toBe(block('10.0.0.0/8').base);
  });

  it('refuses prefixes longer than the family allows', () => {
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(parseCidr('::/129')).toBeUndefined();
    expect(parseCidr('10.0.0.0/')).toBeUndefined();
  });

  it('knows when one block contains another', () => {
    expect(cidrCovers(block('10.0.0.0/8'), block('10.2.0.0/16'))).toBe(true);
    expect(cidrCovers(block('10.2.0.0/16'), block('10.0.0.0/8'))).toBe(false);
    expect(cidrCovers(block('fc00::/7'), block('fd00::/8'))).toBe(true);
  });
});
