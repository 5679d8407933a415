import { describe, expect, it } from 'vitest';
import { clientSource, lastClientSource } from './client-source.js';

describe('clientSource', () => {
  it('counts IPv4 as itself, IPv4-mapped IPv6 as its IPv4 address', () => {
    expect(clientSource('203.0.113.7')).toBe('203.0.113.7');
    expect(clientSource('::ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  it('attack: one subscriber rotating through its IPv6 /64 stays one source', () => {
    const a = clientSource('2001:db8:1:2::1');
    expect(a).toBe('2001:db8:1:2::/64');
    expect(clientSource('2001:db8:1:2:dead:beef:0:42')).toBe(a);
    expect(clientSource('2001:db8:1:3::1')).not.toBe(a);
  });

  it('counts what has no readable address as one source', () => {
    expect(clientSource(undefined)).toBe('unknown');
    expect(clientSource('not an address')).toBe('unknown');
  });

  it('kept answers follow the address asked about (lastClientSource)', () => {
    const sourceOf = lastClientSource();
    expect(sourceOf('203.0.113.7')).toBe('203.0.113.7');
    expect(sourceOf('203.0.113.7')).toBe('203.0.113.7');
    expect(sourceOf('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(sourceOf(undefined)).toBe('unknown');
    expect(sourceOf('203.0.113.8')).toBe('203.0.113.8');
  });
});
