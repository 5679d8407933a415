import { type AgentCard, verifyAgentCardSignature as sdkVerify } from '@a2a-js/sdk';
import { importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { generateEd25519, keySigner } from '../core/ed25519.js';
import { didKeyFromPublicKey, publicKeyFromDidKey } from '../identity/did-key.js';
import type { A2aAgent } from './agent.js';
import { buildAgentCard } from './agent-card.js';
import { checkAgentCard } from './card-check.js';
import { signAgentCard, verifyAgentCardSignature } from './card-signature.js';
import { OACP_A2A_EXTENSION } from './extension.js';

function agent(): A2aAgent {
  const signer = keySigner(generateEd25519().privateKey);
  return {
    did: didKeyFromPublicKey(signer.publicKey),
    name: 'alice',
    description: 'test agent',
    skills: [{ id: 'main', name: 'alice', description: 'echo' }],
    signer,
    tier: 'standard',
    manifestDigest: 'ab'.repeat(32),
  };
}

const node = {
  logOrigin: 'oacp.test/log',
  logVerifierKey: 'oacp.test/log+00000000+AAAA',
  airlockKeys: [new Uint8Array(32).fill(7)],
};

function signedCard(a = agent()): { card: AgentCard; a: A2aAgent } {
  return { card: signAgentCard(buildAgentCard(a, node, 'http://127.0.0.1:9', true), a.signer), a };
}

describe('Agent Card signatures (A2A v1.0 §8.4: JWS over the canonical card)', () => {
  it('signs with EdDSA under the did:key verification method and verifies', () => {
    const { card, a } = signedCard();
    expect(card.signatures).toHaveLength(1);
    const header = JSON.parse(
      Buffer.from(card.signatures[0]?.protected ?? '', 'base64url').toString(),
    ) as Record<string, unknown>;
    expect(header).toEqual({ alg: 'EdDSA', typ: 'JOSE', kid: `${a.did}#${a.did.slice(8)}` });
    expect(verifyAgentCardSignature(card, a.did)).toMatchObject({ ok: true });
    expect(checkAgentCard(card)).toMatchObject({ status: 'verified', did: a.did });
  });

  it('is accepted by the official SDK verifier (jose flattened JWS)', async () => {
    const { card } = signedCard();
    const verify = sdkVerify(async (kid) => {
      const did = kid.split('#')[0] ?? '';
      const x = Buffer.from(publicKeyFromDidKey(did)).toString('base64url');
      return importJWK({ kty: 'OKP', crv: 'Ed25519', x }, 'EdDSA');
    });
    await expect(verify(card)).resolves.toBeUndefined();
  });

  it('refuses a card changed after signing (any field, including the attestation params)', () => {
    const { card, a } = signedCard();
    const renamed = { ...card, description: 'evil twin' };
    expect(verifyAgentCardSignature(renamed, a.did)).toMatchObject({ ok: false });
    const extension = card.capabilities?.extensions[0];
    const params = { ...(extension?.params ?? {}), tier: 'light' };
    const downgraded: AgentCard = {
      ...card,
      capabilities: {
        ...(card.capabilities ?? { extensions: [] }),
        extensions: [{ uri: OACP_A2A_EXTENSION, description: '', required: true, params }],
      },
    };
    expect(checkAgentCard(downgraded)).toMatchObject({
      status: 'invalid',
      reason: expect.stringMatching(/signature/),
    });
  });

  it('refuses a signature by another key, even one that names the right did in kid', () => {
    const { card, a } = signedCard();
    const other = signAgentCard(card, keySigner(generateEd25519().privateKey));
    const forged = {
      ...other,
      signatures: [
        {
          ...(other.signatures[0] ?? { protected: '', signature: '', header: undefined }),
          protected: card.signatures[0]?.protected ?? '',
        },
      ],
    };
    expect(verifyAgentCardSignature(forged, a.did)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/bad signature/),
    });
  });

  it('refuses alg none, other algs, crit and a kid for another did', () => {
    const { card, a } = signedCard();
    const withHeader = (header: Record<string, unknown>) => ({
      ...card,
      signatures: [
        {
          protected: Buffer.from(JSON.stringify(header)).toString('base64url'),
          signature: card.signatures[0]?.signature ?? '',
          header: undefined,
        },
      ],
    });
    const kid = `${a.did}#x`;
    expect(verifyAgentCardSignature(withHeader({ alg: 'none', kid }), a.did).reason).toMatch(/not EdDSA/);
    expect(verifyAgentCardSignature(withHeader({ alg: 'ES256', kid }), a.did).reason).toMatch(/not EdDSA/);
    expect(verifyAgentCardSignature(withHeader({ alg: 'EdDSA', kid, crit: ['b64'] }), a.did).reason).toMatch(
      /crit/,
    );
    const stranger = didKeyFromPublicKey(keySigner(generateEd25519().privateKey).publicKey);
    expect(verifyAgentCardSignature(withHeader({ alg: 'EdDSA', kid: stranger }), a.did).reason).toMatch(
      /kid names/,
    );
  });

  it('tells an unsigned plain card from a card whose OACP claim fails', () => {
    const { card, a } = signedCard();
    const plain: AgentCard = { ...card, capabilities: { extensions: [] }, signatures: [] };
    expect(checkAgentCard(plain)).toMatchObject({ status: 'plain' });
    expect(checkAgentCard(plain, a.did)).toMatchObject({ status: 'invalid' });
    expect(checkAgentCard({ ...card, signatures: [] })).toMatchObject({
      status: 'invalid',
      reason: expect.stringMatching(/no signatures/),
    });
    const pinned = didKeyFromPublicKey(keySigner(generateEd25519().privateKey).publicKey);
    expect(checkAgentCard(card, pinned)).toMatchObject({
      status: 'invalid',
      reason: expect.stringMatching(/expected/),
    });
  });

  it('attack: a card of 4,001 signatures is refused unread, and a 500,000-character kid is quoted in a line, with a short reason', () => {
    const { card, a } = signedCard();
    const good = card.signatures[0];
    if (good === undefined) throw new Error('no signature');
    const longKid = Buffer.from(
      JSON.stringify({ alg: 'EdDSA', kid: `did:key:z${'x'.repeat(500_000)}` }),
      'utf8',
    ).toString('base64url');
    const forged = { ...good, signature: `A${good.signature.slice(1)}` };
    const hostile: AgentCard = { ...card, signatures: [...new Array(4_000).fill(forged), good] };
    const started = performance.now();
    const verdict = verifyAgentCardSignature(hostile, a.did);
    expect(performance.now() - started).toBeLessThan(200);
    expect(verdict).toMatchObject({ ok: false });
    expect(verdict.reason).toBe('the card carries 4001 signatures; at most 8 are checked');
    expect(checkAgentCard(hostile).status).toBe('invalid');
    // One entry whose kid is half a megabyte: named in a few characters, not echoed whole.
    const quoting: AgentCard = { ...card, signatures: [{ ...good, protected: longKid }] };
    const check = checkAgentCard(quoting);
    expect(check.status).toBe('invalid');
    expect(check.reason).toContain('kid names "did:key:zxxx');
    expect(check.reason.length).toBeLessThan(1_000);
  });
});
