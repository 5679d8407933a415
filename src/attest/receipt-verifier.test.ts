import { describe, expect, it } from 'vitest';
import { newSigner, toolCallPredicate } from '../../test/attest/fixtures.js';
import { sha256Hex } from '../core/digest.js';
import { type Signer, verifyEd25519 } from '../core/ed25519.js';
import { canonicalize } from '../core/jcs.js';
import { keyFingerprint } from '../identity/public-key-forms.js';
import { addSignature, type Envelope } from './dsse.js';
import { buildStatement, envelopeDigest, signReceipt } from './receipt.js';
import { TOOL_CALL_PREDICATE_TYPE } from './tool-call.js';
import {
  type ReceiptVerification,
  ReceiptVerifier,
  type VerifyReceiptOptions,
  verifyReceiptEnvelope,
} from './verify-receipt.js';

const airlock = newSigner();
const rotatedOut = newSigner();
const agent = newSigner();
const stranger = newSigner();

function receipt(signers: { airlock?: Signer; agent?: Signer }, named: Signer | undefined = agent): Envelope {
  const statement = buildStatement({
    predicateType: TOOL_CALL_PREDICATE_TYPE,
    predicate: toolCallPredicate(named),
  });
  return signReceipt(statement, signers);
}

/** The batch path: every question put out at once and answered in reverse order, as other threads might. */
function verifyInBatch(verifier: ReceiptVerifier, envelope: unknown): ReceiptVerification {
  const pending = verifier.begin(envelope);
  for (let asked = pending.questions(); asked.length > 0; asked = pending.questions()) {
    for (const question of [...asked].reverse()) {
      pending.answer(question, verifyEd25519(question.key, question.message, question.signature));
    }
  }
  return pending.result();
}

function check(result: ReceiptVerification, name: string) {
  return result.checks.find((c) => c.name === name);
}

const shortKey = new Uint8Array(31);
const truncatedSig = (envelope: Envelope): Envelope => ({
  ...envelope,
  signatures: [
    {
      keyid: '',
      sig: Buffer.from(envelope.signatures[0]?.sig ?? '', 'base64')
        .subarray(0, 63)
        .toString('base64'),
    },
  ],
});

const cases: Array<[string, Envelope, VerifyReceiptOptions, Partial<ReceiptVerification>]> = [
  [
    'the Airlock alone',
    receipt({ airlock }, undefined),
    { airlockKeys: [airlock.publicKey] },
    { ok: true, trustLevel: 'Basic' },
  ],
  [
    'agent and Airlock',
    receipt({ airlock, agent }),
    { airlockKeys: [airlock.publicKey] },
    { ok: true, trustLevel: 'Standard' },
  ],
  [
    'the agent alone',
    receipt({ agent }),
    { airlockKeys: [airlock.publicKey] },
    { ok: true, trustLevel: 'Basic' },
  ],
  [
    'a rotated key list, signed by the second key',
    receipt({ airlock, agent }),
    { airlockKeys: [rotatedOut.publicKey, airlock.publicKey] },
    { ok: true, trustLevel: 'Standard' },
  ],
  [
    'an extra signature by nobody known',
    addSignature(receipt({ airlock }, undefined), stranger),
    { airlockKeys: [airlock.publicKey] },
    { ok: false, trustLevel: 'Untrusted' },
  ],
  [
    'the wrong Airlock key',
    receipt({ airlock }, undefined),
    { airlockKeys: [stranger.publicKey] },
    { ok: false, trustLevel: 'Untrusted' },
  ],
  [
    'no Airlock keys at all',
    receipt({ airlock, agent }),
    { airlockKeys: [] },
    { ok: false, trustLevel: 'Untrusted' },
  ],
  [
    'a malformed key that is never reached',
    receipt({ airlock }, undefined),
    { airlockKeys: [airlock.publicKey, shortKey] },
    { ok: true, trustLevel: 'Basic' },
  ],
  [
    'a malformed key that is reached',
    receipt({ airlock }, undefined),
    { airlockKeys: [stranger.publicKey, shortKey] },
    { ok: false, trustLevel: 'Untrusted' },
  ],
  [
    'a truncated signature before a malformed key (no key is looked at)',
    truncatedSig(receipt({ airlock }, undefined)),
    { airlockKeys: [shortKey] },
    { ok: false, trustLevel: 'Untrusted' },
  ],
  [
    'an agent whose key is the Airlock key (the Airlock is credited first)',
    receipt({ airlock }, airlock),
    { airlockKeys: [airlock.publicKey] },
    { ok: true, trustLevel: 'Basic' },
  ],
  [
    'an expected agent that is not the one named',
    receipt({ airlock, agent }),
    { airlockKeys: [airlock.publicKey], expectedAgentDid: 'did:key:z6Mkother' },
    { ok: false },
  ],
  [
    'not an envelope',
    { payload: 1 } as unknown as Envelope,
    { airlockKeys: [airlock.publicKey] },
    { ok: false, trustLevel: 'Untrusted' },
  ],
];

describe('ReceiptVerifier', () => {
  it.each(cases)(
    'verifies %s exactly as verifyReceiptEnvelope, in-thread and in batch',
    (_what, envelope, options, expected) => {
      const once = verifyReceiptEnvelope(envelope, options);
      expect(once).toMatchObject(expected);
      const verifier = new ReceiptVerifier(options);
      // Twice each: what the verifier keeps between receipts must not change an answer.
      for (let round = 0; round < 2; round++) {
        expect(verifier.verify(envelope)).toEqual(once);
        expect(verifyInBatch(verifier, envelope)).toEqual(once);
      }
    },
  );

  it('names the key that signed, the agent it credits, and why it refuses', () => {
    const rotated = verifyReceiptEnvelope(receipt({ airlock, agent }), {
      airlockKeys: [rotatedOut.publicKey, airlock.publicKey],
    });
    expect(check(rotated, 'airlock-signature')?.detail).toBe(
      `verified with Airlock key ${keyFingerprint(airlock.publicKey)}`,
    );
    expect(check(rotated, 'agent-signature')?.ok).toBe(true);
    const extra = verifyReceiptEnvelope(addSignature(receipt({ airlock }, undefined), stranger), {
      airlockKeys: [airlock.publicKey],
    });
    expect(check(extra, 'signatures')?.detail).toMatch(/^signature\(s\) #1 verify under neither/);
    const reached = verifyReceiptEnvelope(receipt({ airlock }, undefined), {
      airlockKeys: [stranger.publicKey, shortKey],
    });
    expect(check(reached, 'verification')?.detail).toBe(
      'check failed: an Ed25519 public key is 32 bytes, got 31',
    );
    expect(reached.checks.map((c) => c.name)).toEqual([
      'envelope',
      'payload-type',
      'statement',
      'verification',
    ]);
  });

  it('hashes the caller’s canonical bytes for the digest only when they are the parsed envelope’s', () => {
    const envelope = receipt({ airlock }, undefined);
    const verifier = new ReceiptVerifier({ airlockKeys: [airlock.publicKey] });
    const plain = verifier.verify(envelope, { canonical: Buffer.from(canonicalize(envelope)) });
    expect(plain.envelopeDigest).toBe(envelopeDigest(envelope));
    // An extra member is dropped by the parse, so the digest is of the envelope without it.
    const extended = { ...envelope, comment: 'added in transit' };
    const result = verifier.verify(extended, { canonical: Buffer.from(canonicalize(extended)) });
    expect(result.envelopeDigest).toBe(envelopeDigest(envelope));
    expect(result.envelopeDigest).not.toBe(sha256Hex(canonicalize(extended)));
  });

  it('takes the witnessed flag per receipt', () => {
    const verifier = new ReceiptVerifier({ airlockKeys: [airlock.publicKey] });
    const envelope = receipt({ airlock, agent });
    expect(verifier.verify(envelope, { witnessed: true })).toEqual(
      verifyReceiptEnvelope(envelope, { airlockKeys: [airlock.publicKey], witnessed: true }),
    );
  });
});
