import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../core/digest.js';
import { PolicyEngine } from './engine.js';
import { loadPolicies } from './load.js';
import type { ToolCallRequest } from './request.js';

function engine(text: string): PolicyEngine {
  return new PolicyEngine(loadPolicies(text, 'test.cedar'));
}

const call = (tool: string, args?: Record<string, unknown>): ToolCallRequest => ({
  agent: 'did:key:z6MkAgent',
  tool,
  server: 'files',
  arguments: args,
});

const READ_UNDER_DATA = `
@id("read-data")
permit(principal, action == Action::"tools/call", resource == Tool::"read_file")
when { context.arguments.path like "/data/*" && !(context.arguments.path like "*..*") };
`;

describe('PolicyEngine', () => {
  it("judges a policed read on the resource it names, never reusing another resource's cached decision", () => {
    const policies = engine(`@id("reads")
permit(principal, action == Action::"resources/read", resource);
@id("no-secret")
forbid(principal, action == Action::"resources/read", resource == Resource::"file:///secret");`);
    const read = (uri: string): ToolCallRequest => ({
      ...call('resources/read'),
      action: 'resources/read',
      resource: { type: 'Resource', id: uri },
    });
    expect(policies.authorize(read('file:///public'))).toMatchObject({
      effect: 'allow',
      policyIds: ['reads'],
    });
    expect(policies.authorize(read('file:///secret'))).toMatchObject({
      effect: 'deny',
      policyIds: ['no-secret'],
    });
    // The tools/call of the same name is another action: deny by default here.
    expect(policies.authorize(call('resources/read')).effect).toBe('deny');
    expect(
      policies.authorize({ ...call('x'), action: 'prompts/get', resource: { type: 'Prompt', id: 'p' } })
        .reason,
    ).toMatch(/no policy permits Agent .* to prompts\/get Prompt::"p" on server "files"/);
  });

  it('allows a call a policy permits and names the policy and digest', () => {
    const text = 'permit(principal, action == Action::"tools/call", resource == Tool::"echo");';
    const decision = engine(text).authorize(call('echo', { message: 'hi' }));
    expect(decision).toEqual({
      effect: 'allow',
      reason: 'permitted by policy policy0',
      policyId: 'policy0',
      policyIds: ['policy0'],
      policyDigest: sha256Hex(text),
    });
  });

  it('denies by default when no policy permits the call', () => {
    const decision = engine('permit(principal, action, resource == Tool::"echo");').authorize(call('rm'));
    expect(decision.effect).toBe('deny');
    expect(decision.reason).toMatch(/no policy permits .*"rm".*deny by default/);
    expect(decision.policyIds).toEqual([]);
  });

  it('denies everything under an empty policy set', () => {
    expect(engine('').authorize(call('echo')).effect).toBe('deny');
  });

  it('lets forbid override permit', () => {
    const decision = engine(`
      @id("all") permit(principal, action, resource);
      @id("no-delete") forbid(principal, action, resource == Tool::"delete_file");
    `).authorize(call('delete_file', { path: '/data/a' }));
    expect(decision).toMatchObject({
      effect: 'deny',
      reason: 'forbidden by policy no-delete',
      policyIds: ['no-delete'],
    });
  });

  it('matches on principal identity', () => {
    const e = engine('permit(principal == Agent::"did:key:z6MkAgent", action, resource);');
    expect(e.authorize(call('x')).effect).toBe('allow');
    expect(e.authorize({ ...call('x'), agent: 'did:key:z6MkOther' }).effect).toBe('deny');
  });

  it('matches on the server name in context', () => {
    const e = engine('permit(principal, action, resource) when { context.server == "files" };');
    expect(e.authorize(call('x')).effect).toBe('allow');
    expect(e.authorize({ ...call('x'), server: 'shell' }).effect).toBe('deny');
  });

  describe('argument rules', () => {
    const e = engine(READ_UNDER_DATA);

    it('allows a path under /data/', () => {
      expect(e.authorize(call('read_file', { path: '/data/report.txt' }))).toMatchObject({
        effect: 'allow',
        policyIds: ['read-data'],
      });
    });

    it('denies a path outside /data/', () => {
      expect(e.authorize(call('read_file', { path: '/etc/passwd' })).effect).toBe('deny');
    });

    it('denies traversal out of /data/ when the policy rules out ".."', () => {
      const decision = e.authorize(call('read_file', { path: '/data/../etc/passwd' }));
      expect(decision.effect).toBe('deny');
      expect(decision.reason).toMatch(/deny by default/);
    });

    it('sees exactly the arguments: without the ".." rule, a traversal string matches /data/*', () => {
      const naive = engine(
        'permit(principal, action, resource) when { context.arguments.path like "/data/*" };',
      );
      expect(naive.authorize(call('read_file', { path: '/data/../etc/passwd' })).effect).toBe('allow');
    });

    it('denies, with the reason, when an argument the policy reads is missing', () => {
      const decision = e.authorize(call('read_file', {}));
      expect(decision.effect).toBe('deny');
      expect(decision.reason).toMatch(/could not be evaluated.*read-data/);
      expect(decision.policyIds).toEqual(['read-data']);
    });

    it('denies when an erroring forbid would otherwise be skipped', () => {
      const decision = engine(`
        permit(principal, action, resource);
        @id("no-big") forbid(principal, action, resource) when { context.arguments.size > 100 };
      `).authorize(call('write', { size: 'large' }));
      expect(decision.effect).toBe('deny');
      expect(decision.reason).toMatch(/no-big/);
    });

    it('compares integers and sees non-integer numbers as strings', () => {
      const limits = engine(`
        permit(principal, action, resource == Tool::"walk") when { context.arguments.depth <= 3 };
        permit(principal, action, resource == Tool::"scale") when { context.arguments.factor == "1.5" };
      `);
      expect(limits.authorize(call('walk', { depth: 2 })).effect).toBe('allow');
      expect(limits.authorize(call('walk', { depth: 4 })).effect).toBe('deny');
      expect(limits.authorize(call('walk', { depth: 2.5 })).effect).toBe('deny');
      expect(limits.authorize(call('scale', { factor: 1.5 })).effect).toBe('allow');
    });

    it('reads nested records and arrays as sets', () => {
      const nested = engine(`
        permit(principal, action, resource) when {
          context.arguments.options.recursive == false && context.arguments.tags.contains("public")
        };
      `);
      expect(
        nested.authorize(call('ls', { options: { recursive: false }, tags: ['x', 'public'] })).effect,
      ).toBe('allow');
      expect(nested.authorize(call('ls', { options: { recursive: true }, tags: ['public'] })).effect).toBe(
        'deny',
      );
      expect(nested.authorize(call('ls', { options: { recursive: false }, tags: ['x'] })).effect).toBe(
        'deny',
      );
    });

    it('cannot be tricked into an entity reference by an argument named __entity', () => {
      const guarded = engine(
        'permit(principal, action, resource) when { context.arguments.owner == principal };',
      );
      const decision = guarded.authorize(
        call('x', { owner: { __entity: { type: 'Agent', id: 'did:key:z6MkAgent' } } }),
      );
      expect(decision.effect).toBe('deny');
    });
  });
});

describe('PolicyEngine decision cache', () => {
  it('returns the same decision for an identical request and a fresh one when anything differs', () => {
    const e = new PolicyEngine(
      loadPolicies('permit(principal, action, resource) when { context.arguments.n < 3 };'),
      { cacheSize: 2 },
    );
    const first = e.authorize(call('t', { n: 1 }));
    expect(e.authorize(call('t', { n: 1 }))).toBe(first);
    expect(e.authorize(call('t', { n: 5 })).effect).toBe('deny');
    expect(e.authorize({ ...call('t', { n: 1 }), agent: 'did:key:z6MkOther' })).not.toBe(first);
    // Evicted (size 2): evaluated again, same answer.
    expect(e.authorize(call('t', { n: 1 }))).toEqual(first);
  });
});
