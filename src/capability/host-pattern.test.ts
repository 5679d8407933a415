import { describe, expect, it } from 'vitest';
import { canonicalHost } from './host.js';
import { type HostPattern, hostPatternCovers, hostPatternMatches, parseHostPattern } from './host-pattern.js';

function pattern(text: string): HostPattern {
  const parsed = parseHostPattern(text);
  if (parsed === undefined) throw new Error(`test pattern ${text} did not parse`);
  return parsed;
}

const at = (host: string, port = 443) => ({ host: canonicalHost(host) ?? host, port });

describe('canonical hosts', () => {
  it('lower-cases, drops the trailing dot and rewrites numeric IPv4 forms', () => {
    expect(canonicalHost('API.Example.COM.')).toBe('api.example.com');
    expect(canonicalHost('2130706433')).toBe('127.0.0.1');
    expect(canonicalHost('0x7f.1')).toBe('127.0.0.1');
    expect(canonicalHost('[::1]')).toBe('::1');
  });

  it('refuses anything that is not a bare host', () => {
    for (const bad of ['user@host', 'host/path', 'a b', '', 'a..b', '[zz]', 'exa mple.com', 'host:80']) {
      expect(canonicalHost(bad)).toBeUndefined();
    }
  });
});

describe('host patterns', () => {
  it('matches an exact host on any port, host:port on that port only', () => {
    expect(hostPatternMatches(pattern('api.example.com'), at('api.example.com', 8443))).toBe(true);
    expect(hostPatternMatches(pattern('api.example.com:443'), at('api.example.com', 443))).toBe(true);
    expect(hostPatternMatches(pattern('api.example.com:443'), at('api.example.com', 80))).toBe(false);
    expect(hostPatternMatches(pattern('api.example.com'), at('evil-api.example.com'))).toBe(false);
  });

  it('matches *.domain for subdomains only, never the apex or look-alikes', () => {
    const wildcard = pattern('*.example.com');
    expect(hostPatternMatches(wildcard, at('a.example.com'))).toBe(true);
    expect(hostPatternMatches(wildcard, at('a.b.example.com'))).toBe(true);
    expect(hostPatternMatches(wildcard, at('example.com'))).toBe(false);
    expect(hostPatternMatches(wildcard, at('badexample.com'))).toBe(false);
    expect(hostPatternMatches(wildcard, at('example.com.evil.net'))).toBe(false);
  });

  it('compares IP literals as addresses', () => {
    expect(hostPatternMatches(pattern('[::1]:8080'), at('0:0:0:0:0:0:0:1', 8080))).toBe(true);
    expect(hostPatternMatches(pattern('127.0.0.1'), at('2130706433', 80))).toBe(true);
  });

  it('refuses malformed patterns', () => {
    for (const bad of ['*.10.0.0.1', 'host:0', 'host:70000', '*', 'a:b:c', '[::1]x']) {
      expect(parseHostPattern(bad)).toBeUndefined();
    }
  });

  it('knows which pattern covers which', () => {
    expect(hostPatternCovers(pattern('*.example.com'), pattern('a.example.com:443'))).toBe(true);
    expect(hostPatternCovers(pattern('*.example.com'), pattern('*.x.example.com'))).toBe(true);
    expect(hostPatternCovers(pattern('*.example.com'), pattern('example.com'))).toBe(false);
    expect(hostPatternCovers(pattern('example.com:443'), pattern('example.com'))).toBe(false);
    expect(hostPatternCovers(pattern('example.com'), pattern('example.com:443'))).toBe(true);
    expect(hostPatternCovers(pattern('a.example.com'), pattern('*.example.com'))).toBe(false);
  });
});
