import { describe, expect, it } from 'vitest';
import { GatewayPolicy, type GatewayRequest } from './gateway-policy.js';
import { loadGlobalPolicies } from './load.js';
import { DEFAULT_GLOBAL_POLICY } from './schema.js';

function call(attributes: Record<string, unknown>, args: Record<string, unknown> = {}): GatewayRequest {
  return {
    action: 'tools/call',
    principal: {
      id: 'did:key:z6MkA',
      attributes: { name: 'a', tier: 'standard', attestation_level: 1, ...attributes },
    },
    resource: { id: 'records.read', attributes: { server: 'native', data: 'phi' } },
    context: { server: 'native', signed: false, arguments: args },
  };
}

describe('global policies', () => {
  it('permits everything with the default set, naming its policy', () => {
    const policy = new GatewayPolicy(loadGlobalPolicies(DEFAULT_GLOBAL_POLICY));
    expect(policy.decide(call({}))).toMatchObject({
      effect: 'allow',
      policyIds: ['oacp-gateway-default-allow'],
    });
  });

  it('denies by default and lets forbid win over permit', () => {
    const policy = new GatewayPolicy(
      loadGlobalPolicies(`@id("cleared") permit(principal, action == Action::"tools/call", resource)
          when { principal has cleared && principal.cleared == true };
        @id("no-level-1") forbid(principal, action == Action::"tools/call", resource)
          when { principal.attestation_level < 2 };`),
    );
    expect(policy.decide(call({ cleared: true }))).toMatchObject({
      effect: 'deny',
      policyIds: ['no-level-1'],
    });
    expect(policy.decide(call({ cleared: true, attestation_level: 2 }))).toMatchObject({ effect: 'allow' });
    expect(policy.decide(call({ attestation_level: 2 }))).toMatchObject({
      effect: 'deny',
      reason: expect.stringContaining('deny by default'),
    });
  });

  it('denies, naming the policy, when a policy cannot be evaluated (an attribute read without has)', () => {
    const policy = new GatewayPolicy(
      loadGlobalPolicies(`@id("base") permit(principal, action, resource);
        @id("careless") forbid(principal, action == Action::"tools/call", resource) when { principal.cleared == false };`),
    );
    expect(policy.decide(call({}))).toMatchObject({ effect: 'deny', policyIds: ['careless'] });
  });

  it('reads arguments only when a policy mentions them, and caches decisions without mixing them up', () => {
    const blind = new GatewayPolicy(loadGlobalPolicies(DEFAULT_GLOBAL_POLICY));
    expect(blind.decide(call({}, { a: 1 }))).toEqual(blind.decide(call({}, { a: 2 })));
    const reader = new GatewayPolicy(
      loadGlobalPolicies(`@id("small") permit(principal, action == Action::"tools/call", resource)
        when { context.arguments has n && context.arguments.n < 10 };`),
    );
    expect(reader.decide(call({}, { n: 3 })).effect).toBe('allow');
    expect(reader.decide(call({}, { n: 30 })).effect).toBe('deny');
    expect(reader.decide(call({}, { n: 3 })).effect).toBe('allow');
  });

  it('attack: large arguments are evaluated each time, never held by the decision cache', () => {
    // 4096 remembered requests of a 1 MiB argument each would hold 4 GiB.
    const reader = new GatewayPolicy(
      loadGlobalPolicies(`@id("all") permit(principal, action, resource);
        @id("no-etc") forbid(principal, action == Action::"tools/call", resource)
          when { context.arguments has path && context.arguments.path like "/etc/*" };`),
    );
    for (let i = 0; i < 8; i += 1) {
      const decision = reader.decide(call({}, { path: `/etc/${i}`, pad: 'x'.repeat(64 * 1024) }));
      expect(decision).toMatchObject({ effect: 'deny', policyIds: ['no-etc'] });
    }
    expect(reader.cachedDecisions).toBe(0);
    reader.decide(call({}, { path: '/tmp/a' }));
    expect(reader.cachedDecisions).toBe(1);
  });

  it("denies arguments Cedar cannot read (a lone surrogate) with the tool-call engine's reason", () => {
    const reader = new GatewayPolicy(
      loadGlobalPolicies(`@id("all") permit(principal, action, resource);
        @id("no-etc") forbid(principal, action == Action::"tools/call", resource)
          when { context.arguments has path && context.arguments.path like "/etc/*" };`),
    );
    expect(reader.decide(call({}, { path: '\ud800/etc/shadow' }))).toMatchObject({
      effect: 'deny',
      reason: expect.stringContaining('context.arguments.path holds a lone UTF-16 surrogate'),
    });
  });

  it('refuses policies that do not fit the gateway schema, with file, line and column', () => {
    expect(() =>
      loadGlobalPolicies('permit(principal, action == Action::"tools/cal", resource);', 'g.cedar'),
    ).toThrow(/g\.cedar:1:\d+: .*unrecognized action/);
    expect(() =>
      loadGlobalPolicies('permit(principal, action, resource) when { context.running == "x" };', 'g.cedar'),
    ).toThrow(/g\.cedar:1:\d+: .*not compatible/);
    expect(() => loadGlobalPolicies('permit(principal, action, resource', 'g.cedar')).toThrow(/g\.cedar/);
    expect(() =>
      loadGlobalPolicies(
        '@id("x") permit(principal, action, resource); @id("x") forbid(principal, action, resource);',
      ),
    ).toThrow(/two policies are named "x"/);
  });
});
