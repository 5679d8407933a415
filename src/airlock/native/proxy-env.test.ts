import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// The sandbox preload's own module (plain CommonJS, bundled into dist/airlock/native/fetch-proxy-preload.cjs).
const { proxyFor, shouldProxy, undiciNoProxy } = createRequire(import.meta.url)('./proxy-env.cjs') as {
  proxyFor(env: Record<string, string>, protocol: string): URL | undefined;
  shouldProxy(env: Record<string, string>, hostname: string, port: number): boolean;
  undiciNoProxy(env: Record<string, string>): string;
};

const PROXY = { HTTP_PROXY: 'http://127.0.0.1:3128', HTTPS_PROXY: 'http://127.0.0.1:3128' };

describe('proxy-env: which requests of a sandboxed Node program go through the egress proxy', () => {
  it('sends every public host through the proxy when NO_PROXY is empty (what OACP sets)', () => {
    const env = { ...PROXY, NO_PROXY: '', no_proxy: '' };
    for (const host of ['api.github.com', '192.0.2.2', '2001:db8::1', '[2001:db8::1]', '10.0.0.1'])
      expect(shouldProxy(env, host, 443), host).toBe(true);
  });

  it("dials the sandbox's own loopback directly: through the proxy it would be the host's, always refused", () => {
    for (const host of ['localhost', 'LOCALHOST', 'app.localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]'])
      expect(shouldProxy(PROXY, host, 80), host).toBe(false);
    // Only loopback: look-alike names and public addresses that merely start with 127 still go through.
    for (const host of ['localhost.example.com', '127.example.com', '1127.0.0.1', 'evil-localhost'])
      expect(shouldProxy(PROXY, host, 80), host).toBe(true);
  });

  it('reads NO_PROXY as curl and undici do: name and subdomains, leading dot or *., a port, or *', () => {
    const env = {
      ...PROXY,
      NO_PROXY: 'internal.example, .corp.example,*.svc.example api.example:8443 [2001:db8::2]:443',
    };
    expect(shouldProxy(env, 'internal.example', 443)).toBe(false);
    expect(shouldProxy(env, 'a.internal.example', 443)).toBe(false);
    expect(shouldProxy(env, 'corp.example', 443)).toBe(false);
    expect(shouldProxy(env, 'x.svc.example', 80)).toBe(false);
    expect(shouldProxy(env, 'api.example', 8443)).toBe(false);
    expect(shouldProxy(env, 'api.example', 443)).toBe(true);
    expect(shouldProxy(env, '2001:db8::2', 443)).toBe(false);
    expect(shouldProxy(env, '2001:db8::2', 80)).toBe(true);
    // A suffix is a label boundary, not a string suffix.
    expect(shouldProxy(env, 'notinternal.example', 443)).toBe(true);
    expect(shouldProxy({ ...PROXY, NO_PROXY: '*' }, 'api.github.com', 443)).toBe(false);
    // The lower-case spelling wins, as in curl and undici.
    expect(shouldProxy({ ...PROXY, no_proxy: '', NO_PROXY: 'api.example' }, 'api.example', 443)).toBe(true);
  });

  it('takes the proxy for each scheme from its variable, and none from a malformed or non-HTTP one', () => {
    expect(proxyFor(PROXY, 'https:')?.href).toBe('http://127.0.0.1:3128/');
    expect(
      proxyFor({ https_proxy: 'http://127.0.0.1:9', HTTPS_PROXY: 'http://127.0.0.1:3128' }, 'https:')?.port,
    ).toBe('9');
    expect(proxyFor({ HTTP_PROXY: '127.0.0.1:3128' }, 'http:')?.href).toBe('http://127.0.0.1:3128/');
    expect(proxyFor({ HTTPS_PROXY: 'http://127.0.0.1:3128' }, 'http:')).toBeUndefined();
    expect(proxyFor({ HTTP_PROXY: 'http://[bad' }, 'http:')).toBeUndefined();
    expect(proxyFor({ HTTP_PROXY: 'socks5://127.0.0.1:1080' }, 'http:')).toBeUndefined();
    expect(proxyFor({}, 'https:')).toBeUndefined();
  });

  it("gives undici's fetch the same loopback exemption, and leaves a NO_PROXY of * alone", () => {
    expect(undiciNoProxy({ NO_PROXY: '' })).toBe('localhost,127.0.0.1,[::1]');
    expect(undiciNoProxy({ NO_PROXY: 'corp.example' })).toBe('corp.example,localhost,127.0.0.1,[::1]');
    expect(undiciNoProxy({ NO_PROXY: '*' })).toBe('*');
  });
});
