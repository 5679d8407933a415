import { describe, expect, it } from 'vitest';
import { NetworkPolicy } from './network-policy.js';

const policy = (allowlist: string[], denylist: string[] = []) => NetworkPolicy.from({ allowlist, denylist });

describe('NetworkPolicy.decide', () => {
  it('allows an allowlisted host and says which entry matched', () => {
    const decision = policy(['api.example.com:443']).decide({ host: 'API.example.com', port: 443 });
    expect(decision).toMatchObject({ effect: 'allow', policyId: 'capability.network' });
    expect(decision.reason).toContain('api.example.com:443');
  });

  it('denies hosts not on the allowlist, naming them', () => {
    const decision = policy(['api.example.com']).decide({ host: 'evil.com', port: 443 });
    expect(decision).toEqual({
      effect: 'deny',
      reason: 'evil.com:443 is not in the network allowlist',
      policyId: 'capability.network',
    });
  });

  it('lets the denylist win over the allowlist, for hosts and for CIDR blocks', () => {
    const p = policy(['*.example.com', '203.0.113.9'], ['bad.example.com', '203.0.113.0/24']);
    expect(p.decide({ host: 'bad.example.com', port: 443 }).reason).toContain(
      'in the network denylist (bad.example.com)',
    );
    expect(p.decide({ host: '203.0.113.9', port: 443 }).reason).toContain('denylist (203.0.113.0/24)');
    expect(p.decide({ host: 'good.example.com', port: 443 }).effect).toBe('allow');
  });

  it.each([
    ['169.254.169.254', 'link-local'],
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['0.0.0.0', 'this-network'],
    ['224.0.0.1', 'multicast'],
    ['::1', 'loopback'],
    ['fd00::1', 'unique local'],
    ['fe80::1', 'link-local'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['metadata.google.internal', 'metadata'],
    ['localhost', 'host-local'],
    ['2130706433', 'loopback'],
  ])('denies %s by default even when a wildcard could cover it', (host, label) => {
    const p = policy(['*.internal', '*.localhost', '*.google.internal', 'localhost:1', '127.0.0.1:1']);
    const decision = p.decide({ host, port: 80 });
    expect(decision.effect).toBe('deny');
    if (host === 'metadata.google.internal') {
      expect(decision.reason).toContain(label);
      expect(decision.reason).toContain('denied by default unless the allowlist names it exactly');
    }
  });

  it('explains the default deny when a wildcard matches a metadata name', () => {
    const decision = policy(['*.google.internal']).decide({ host: 'metadata.google.internal', port: 80 });
    expect(decision.effect).toBe('deny');
    expect(decision.reason).toBe(
      'metadata.google.internal is a host-local or metadata name (metadata.google.internal); denied by default unless the allowlist names it exactly',
    );
  });

  it('allows a private destination only when named exactly', () => {
    expect(policy(['169.254.169.254']).decide({ host: '169.254.169.254', port: 80 }).effect).toBe('allow');
    expect(policy(['localhost:8080']).decide({ host: 'localhost', port: 8080 }).effect).toBe('allow');
    expect(policy(['localhost:8080']).decide({ host: 'localhost', port: 8081 }).effect).toBe('deny');
  });

  it('refuses invalid hosts and ports', () => {
    expect(policy(['*.example.com']).decide({ host: 'a@b.example.com', port: 443 }).reason).toContain(
      'not a valid host',
    );
    expect(policy(['example.com']).decide({ host: 'example.com', port: 0 }).reason).toContain(
      'not a valid TCP port',
    );
  });
});

describe('NetworkPolicy.decideAddress', () => {
  it('denies an allowlisted name that resolves to a private or metadata address', () => {
    const decision = policy(['*.example.com']).decideAddress(
      { host: 'a.example.com', port: 443 },
      '169.254.169.254',
    );
    expect(decision.effect).toBe('deny');
    expect(decision.reason).toContain('resolved to 169.254.169.254');
  });

  it('allows public resolutions and private ones for exactly named hosts', () => {
    expect(
      policy(['*.example.com']).decideAddress({ host: 'a.example.com', port: 443 }, '93.184.216.34').effect,
    ).toBe('allow');
    expect(policy(['db.corp']).decideAddress({ host: 'db.corp', port: 5432 }, '10.0.0.5').effect).toBe(
      'allow',
    );
  });

  it('applies CIDR denylist entries to resolved addresses', () => {
    const decision = policy(['*.example.com'], ['93.184.0.0/16']).decideAddress(
      { host: 'a.example.com', port: 443 },
      '93.184.216.34',
    );
    expect(decision.reason).toContain('in the network denylist (93.184.0.0/16)');
  });

  it('denies when the name itself is not allowed, and when the address is garbage', () => {
    expect(policy([]).decideAddress({ host: 'a.example.com', port: 443 }, '1.1.1.1').effect).toBe('deny');
    expect(
      policy(['a.example.com']).decideAddress({ host: 'a.example.com', port: 443 }, 'nope').reason,
    ).toContain('not an IP address');
  });
});

describe('denylist blocks and address spellings', () => {
  const spelled = (denylist: string[]) =>
    NetworkPolicy.from({ allowlist: ['10.0.0.1', '[::ffff:10.0.0.1]', 'db.example.com'], denylist });

  it.each([
    ['::ffff:10.0.0.0/104', '10.0.0.1'],
    ['::ffff:10.0.0.0/104', '::ffff:10.0.0.1'],
    ['::ffff:0:0/96', '10.0.0.1'],
    ['::ffff:0:0/96', '::ffff:a00:1'],
    ['10.0.0.0/8', '::ffff:10.0.0.1'],
  ])('a block written as %s refuses %s', (block, host) => {
    const decision = spelled([block]).decide({ host, port: 80 });
    expect(decision.effect).toBe('deny');
    expect(decision.reason).toContain(`in the network denylist (${block})`);
  });

  it('applies a mapped block to the addresses a name resolves to, and leaves other addresses alone', () => {
    const policy = spelled(['::ffff:10.0.0.0/104']);
    const target = { host: 'db.example.com', port: 5432 };
    expect(policy.decideAddress(target, '10.0.0.7').reason).toContain('in the network denylist');
    expect(policy.decideAddress(target, '203.0.113.7').effect).toBe('allow');
    expect(spelled(['::ffff:10.0.0.0/104']).decide({ host: '10.0.0.1', port: 80 }).effect).toBe('deny');
    expect(spelled(['::ffff:11.0.0.0/104']).decide({ host: '10.0.0.1', port: 80 }).effect).toBe('allow');
  });
});

describe('what counts as a public address', () => {
  const wildcard = NetworkPolicy.from({ allowlist: ['*.example.com'], denylist: [] });
  const resolved = (address: string) => wildcard.decideAddress({ host: 'a.example.com', port: 443 }, address);

  it.each([
    ['::7f00:1', '127.0.0.1'],
    ['::a9fe:a9fe', '169.254.169.254'],
    ['::ffff:a9fe:a9fe', '169.254.169.254'],
    ['64:ff9b::a00:1', '10.0.0.1'],
    ['2002:7f00:1::', '127.0.0.1'],
    ['2002:a9fe:a9fe::1', '169.254.169.254'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', '127.0.0.1'],
    ['2001:0:4136:e378::f5ff:fffe', '10.0.0.1'],
    ['2002:c000:201::', '192.0.2.1'],
  ])('judges %s by the IPv4 address it carries (%s)', (address, carried) => {
    const decision = resolved(address);
    expect(decision.effect).toBe('deny');
    expect(decision.reason).toContain(`carries ${carried}`);
  });

  it.each([
    '0.1.2.3',
    '100.64.0.1',
    '192.0.0.8',
    '192.0.2.1',
    '192.88.99.1',
    '198.18.0.1',
    '198.19.255.255',
    '198.51.100.1',
    '203.0.113.1',
    '224.0.0.1',
    '239.255.255.250',
    '240.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    '64:ff9b:1::808:808',
    '100::1',
    '100:0:0:1::1',
    '2001:2::1',
    '2001:10::1',
    '2001:1f:ffff::1',
    '2001:db8::1',
    '3fff::1',
    '3fff:fff:ffff::1',
    '5f00::1',
    '5f00:ffff::1',
    'fc00::1',
    'fd12::1',
    'fe80::1',
    'ff02::1',
  ])('refuses the non-routable address %s for a wildcard entry', (address) => {
    const decision = resolved(address);
    expect(decision.effect).toBe('deny');
    expect(decision.reason).toContain('denied by default');
  });

  it.each([
    '8.8.8.8',
    '93.184.216.34',
    '192.0.3.1',
    '198.20.0.1',
    '203.0.114.1',
    '223.255.255.255',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
    '2001:0:4136:e378:8000:63bf:f7f7:f7f7',
    '2001:db9::1',
    '3fff:1000::1',
    '100:0:0:2::1',
    '2001:20::1',
    '5f01::1',
    '2606:4700::1111',
  ])('allows the public address %s', (address) => {
    expect(resolved(address).effect).toBe('allow');
  });
});
