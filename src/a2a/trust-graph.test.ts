import { describe, expect, it } from 'vitest';
import { generateEd25519, keySigner } from '../core/ed25519.js';
import { didKeyFromPublicKey } from '../identity/did-key.js';
import { TrustGraph } from './trust-graph.js';

const did = () => didKeyFromPublicKey(keySigner(generateEd25519().privateKey).publicKey);

describe('trust graph (which agents may send tasks to which)', () => {
  const alice = did();
  const bob = did();
  const remote = did();

  it('denies every edge when no edge is configured', () => {
    const decision = TrustGraph.empty().decide({ did: alice }, { did: bob, localName: 'bob' });
    expect(decision).toMatchObject({ effect: 'deny', reason: expect.stringMatching(/no trust edge/) });
  });

  it('allows only the configured direction, naming the edge', () => {
    const graph = new TrustGraph([{ from: alice, to: 'bob' }]);
    expect(graph.decide({ did: alice }, { did: bob, localName: 'bob' })).toMatchObject({
      effect: 'allow',
      policyId: 'a2a.trust[0]',
    });
    expect(graph.decide({ did: bob, localName: 'bob' }, { did: alice, localName: 'alice' }).effect).toBe(
      'deny',
    );
  });

  it('matches a sender by name only when it is an agent of this node', () => {
    const graph = new TrustGraph([{ from: 'alice', to: 'bob' }]);
    expect(graph.decide({ did: alice, localName: 'alice' }, { did: bob, localName: 'bob' }).effect).toBe(
      'allow',
    );
    // A remote agent calling itself "alice" is known here only by its did.
    expect(graph.decide({ did: remote }, { did: bob, localName: 'bob' }).effect).toBe('deny');
  });

  it('supports * on either end', () => {
    const graph = new TrustGraph([{ from: '*', to: bob }]);
    expect(graph.decide({ did: remote }, { did: bob }).effect).toBe('allow');
    expect(graph.decide({ did: remote }, { did: alice }).effect).toBe('deny');
  });

  it('refuses malformed edges when built', () => {
    expect(() => new TrustGraph([{ from: 'did:key:zNotAKey', to: 'bob' }])).toThrow(/a2a.trust\[0.from\]/);
    expect(() => new TrustGraph([{ from: 'alice', to: '' }])).toThrow(/A2A|a2a.trust/);
    expect(() => new TrustGraph([{ from: 'al ice', to: 'bob' }])).toThrow(/did:key, an agent name or \*/);
  });
});
