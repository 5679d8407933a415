import { describe, expect, it } from 'vitest';
import { NetworkPolicy } from '../../capability/network-policy.js';
import { proxyRules } from './rules.js';

/** The host this proxy "runs on" has one public address; names resolving to it are the host. */
const rules = proxyRules(
  NetworkPolicy.from({ allowlist: ['*.attacker.example', '93.184.216.9'], denylist: [] }),
  () => ['127.0.0.1', '::1', '93.184.216.9', '2606:4700::9', 'fe80::1'],
);

describe('proxy rules: a name never reaches the host the proxy runs on', () => {
  it.each([
    ['93.184.216.9', 'an address of this host'],
    ['::ffff:93.184.216.9', 'an address of this host'],
    ['2606:4700::9', 'an address of this host'],
    ['127.0.0.1', 'loopback'],
  ])('refuses a name resolving to %s', (address, why) => {
    const decision = rules.decideAddress({ host: 'x.attacker.example', port: 80 }, address);
    expect(decision.effect).toBe('deny');
    expect(decision.reason).toContain(`x.attacker.example resolved to ${address}`);
    expect(decision.reason).toContain(why);
  });

  it('lets a name through to a public address that is not this host', () => {
    expect(rules.decideAddress({ host: 'x.attacker.example', port: 80 }, '93.184.216.10').effect).toBe(
      'allow',
    );
  });

  it('lets the host address through when the allowlist names the literal', () => {
    expect(rules.decideAddress({ host: '93.184.216.9', port: 80 }, '93.184.216.9').effect).toBe('allow');
  });
});
