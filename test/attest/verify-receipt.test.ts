import { describe, expect, it } from 'vitest';
import { addSignature, type Envelope, signEnvelope } from '../../src/attest/dsse.js';
import { EXECUTION_PREDICATE_TYPE } from '../../src/attest/execution.js';
import { buildStatement, envelopeDigest, signReceipt } from '../../src/attest/receipt.js';
import { IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_TYPE } from '../../src/attest/statement.js';
import { type TeeEvidence, type TeeQuoteVerifier, teeBinding } from '../../src/attest/tee.js';
import { TOOL_CALL_PREDICATE_TYPE, type ToolCallPredicateInput } from '../../src/attest/tool-call.js';
import { meetsTrustLevel } from '../../src/attest/trust-level.js';
import { type VerifyReceiptOptions, verifyReceiptEnvelope } from '../../src/attest/verify-receipt.js';
import { canonicalize } from '../../src/core/jcs.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { executionPredicate, newSigner, quoteShapedBytes, toolCallPredicate } from './fixtures.js';

const airlock = newSigner();
const agent = newSigner();
const stranger = newSigner();
const keys: VerifyReceiptOptions = { airlockKeys: [airlock.publicKey] };

function toolCall(predicate: ToolCallPredicateInput = toolCallPredicate(agent)) {
  return buildStatement({ predicateType: TOOL_CALL_PREDICATE_TYPE, predicate });
}

/** Signs any JSON as an in-toto payload, bypassing the builder, as a forger or a foreign producer would. */
function signRaw(statement: unknown, signers = [airlock], payloadType = IN_TOTO_PAYLOAD_TYPE): Envelope {
  return signEnvelope(payloadType, Buffer.from(canonicalize(statement)), signers);
}

function check(result: ReturnType<typeof verifyReceiptEnvelope>, name: string) {
  return result.checks.find((c) => c.name === name);
}

/**
 * A stand-in for a vendor quote verifier (none ships with OACP): it accepts
 * exactly the quote it was given, and only with the expected report data.
 */
function trustingVerifier(accepted: TeeEvidence): TeeQuoteVerifier {
  return {
    platforms: [accepted.platform],
    verify: (evidence, expected) =>
      evidence.quote === accepted.quote && evidence.reportData === expected
        ? { ok: true, detail: 'quote verified' }
        : { ok: false, detail: 'quote rejected' },
  };
}

/** A statement carrying a quote-shaped blob bound to it, the way a TEE producer would build one. */
function teeStatement() {
  const draft = toolCall({ ...toolCallPredicate(agent), tier: 'standard' });
  const reportData = teeBinding({ ...draft, predicate: { ...draft.predicate, assurance: 'tee' } });
  const tee: TeeEvidence = { platform: 'intel-tdx', quote: quoteShapedBytes(), reportData };
  return {
    statement: toolCall({ ...toolCallPredicate(agent), tier: 'standard', assurance: 'tee', tee }),
    tee,
  };
}

describe('receipt verification: trust levels', () => {
  it('Standard: agent and Airlock both sign', () => {
    const result = verifyReceiptEnvelope(signReceipt(toolCall(), { airlock, agent }), keys);
    expect(result.ok).toBe(true);
    expect(result.trustLevel).toBe('Standard');
    expect(result.checks.map((c) => c.name)).toEqual([
      'envelope',
      'payload-type',
      'statement',
      'signatures',
      'airlock-signature',
      'agent-signature',
      'tee-quote',
    ]);
    expect(check(result, 'tee-quote')).toEqual({ name: 'tee-quote', ok: true, detail: 'no TEE quote' });
    expect(check(result, 'agent-signature')?.detail).toContain(didKeyFromPublicKey(agent.publicKey));
  });

  it('Basic: the Airlock alone, when the client presented no agent key', () => {
    const result = verifyReceiptEnvelope(
      signReceipt(toolCall(toolCallPredicate(undefined)), { airlock }),
      keys,
    );
    expect(result).toMatchObject({ ok: true, trustLevel: 'Basic' });
    expect(check(result, 'agent-signature')?.detail).toMatch(/names no agent/);
  });

  it('Basic: the Airlock alone vouching for a named agent that did not sign', () => {
    const result = verifyReceiptEnvelope(signReceipt(toolCall(), { airlock }), keys);
    expect(result).toMatchObject({ ok: true, trustLevel: 'Basic' });
    expect(check(result, 'agent-signature')?.detail).toMatch(/only the Airlock vouches/);
  });

  it('Basic: the agent alone', () => {
    const result = verifyReceiptEnvelope(signReceipt(toolCall(), { agent }), keys);
    expect(result).toMatchObject({ ok: true, trustLevel: 'Basic' });
    expect(check(result, 'airlock-signature')?.detail).toMatch(/^absent/);
  });

  it('Untrusted: no signature verifies', () => {
    const result = verifyReceiptEnvelope(
      signReceipt(toolCall(toolCallPredicate(undefined)), { airlock: stranger }),
      keys,
    );
    expect(result).toMatchObject({ ok: false, trustLevel: 'Untrusted' });
    expect(check(result, 'signatures')).toMatchObject({ ok: false, detail: expect.stringMatching(/#0/) });
  });

  it('Verified: Standard plus a TEE quote bound to the statement and accepted by a quote verifier', () => {
    const { statement, tee } = teeStatement();
    const result = verifyReceiptEnvelope(signReceipt(statement, { airlock, agent }), {
      ...keys,
      teeVerifier: trustingVerifier(tee),
    });
    expect(result).toMatchObject({ ok: true, trustLevel: 'Verified' });
    expect(check(result, 'tee-quote')).toMatchObject({ ok: true, detail: 'quote verified' });
  });

  it('Maximum: Verified plus witnessed', () => {
    const { statement, tee } = teeStatement();
    const result = verifyReceiptEnvelope(signReceipt(statement, { airlock, agent }), {
      ...keys,
      teeVerifier: trustingVerifier(tee),
      witnessed: true,
    });
    expect(result).toMatchObject({ ok: true, trustLevel: 'Maximum' });
  });

  it('is cumulative: witnessing without a TEE quote stays Standard, a single party stays Basic', () => {
    expect(
      verifyReceiptEnvelope(signReceipt(toolCall(), { airlock, agent }), { ...keys, witnessed: true })
        .trustLevel,
    ).toBe('Standard');
    const { statement, tee } = teeStatement();
    const airlockOnly = verifyReceiptEnvelope(signReceipt(statement, { airlock }), {
      ...keys,
      teeVerifier: trustingVerifier(tee),
      witnessed: true,
    });
    expect(airlockOnly).toMatchObject({ ok: true, trustLevel: 'Basic' });
  });

  it('cannot reach Verified without a quote verifier: a quote-shaped blob is not evidence', () => {
    const { statement } = teeStatement();
    const result = verifyReceiptEnvelope(signReceipt(statement, { airlock, agent }), {
      ...keys,
      witnessed: true,
    });
    expect(result).toMatchObject({ ok: false, trustLevel: 'Untrusted' });
    expect(check(result, 'tee-quote')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/no quote verifier/),
    });
  });

  it('refuses a quote that is not bound to the statement, even with a verifier', () => {
    const { tee } = teeStatement();
    const moved = { ...tee, reportData: 'c'.repeat(64) };
    const statement = toolCall({
      ...toolCallPredicate(agent),
      tier: 'standard',
      assurance: 'tee',
      tee: moved,
    });
    const result = verifyReceiptEnvelope(signReceipt(statement, { airlock, agent }), {
      ...keys,
      teeVerifier: trustingVerifier(moved),
    });
    expect(result).toMatchObject({ ok: false, trustLevel: 'Untrusted' });
    expect(check(result, 'tee-quote')?.detail).toMatch(/not bound/);
  });

  it('refuses a quote the verifier rejects', () => {
    const { statement } = teeStatement();
    const other: TeeEvidence = {
      platform: 'intel-tdx',
      quote: quoteShapedBytes(),
      reportData: 'd'.repeat(64),
    };
    const result = verifyReceiptEnvelope(signReceipt(statement, { airlock, agent }), {
      ...keys,
      teeVerifier: trustingVerifier(other),
    });
    expect(check(result, 'tee-quote')).toMatchObject({ ok: false, detail: 'quote rejected' });
    expect(result.trustLevel).toBe('Untrusted');
  });

  it('orders the levels', () => {
    expect(meetsTrustLevel('Standard', 'Basic')).toBe(true);
    expect(meetsTrustLevel('Basic', 'Standard')).toBe(false);
    expect(meetsTrustLevel('Maximum', 'Verified')).toBe(true);
  });
});

describe('receipt verification: refusals', () => {
  it('refuses a tampered payload', () => {
    const envelope = signReceipt(toolCall(), { airlock, agent });
    const forged = toolCall({ ...toolCallPredicate(agent), resultDigest: 'e'.repeat(64) });
    const tampered = { ...envelope, payload: Buffer.from(canonicalize(forged)).toString('base64') };
    const result = verifyReceiptEnvelope(tampered, keys);
    expect(result).toMatchObject({ ok: false, trustLevel: 'Untrusted' });
    expect(check(result, 'signatures')).toMatchObject({ ok: false, detail: expect.stringMatching(/#0, #1/) });
  });

  it('refuses when verified against the wrong Airlock key', () => {
    const result = verifyReceiptEnvelope(signReceipt(toolCall(), { airlock, agent }), {
      airlockKeys: [stranger.publicKey],
    });
    expect(result).toMatchObject({ ok: false, trustLevel: 'Untrusted' });
    expect(check(result, 'signatures')?.detail).toMatch(/#1/);
  });

  it('accepts any of several Airlock keys (rotation)', () => {
    const result = verifyReceiptEnvelope(signReceipt(toolCall(), { airlock, agent }), {
      airlockKeys: [stranger.publicKey, airlock.publicKey],
    });
    expect(result).toMatchObject({ ok: true, trustLevel: 'Standard' });
  });

  it('fails on an extra signature that verifies under no known key, instead of ignoring it', () => {
    const envelope = addSignature(signReceipt(toolCall(), { airlock, agent }), stranger);
    const result = verifyReceiptEnvelope(envelope, keys);
    expect(result).toMatchObject({ ok: false, trustLevel: 'Untrusted' });
    expect(check(result, 'signatures')?.detail).toMatch(/#2/);
    expect(check(result, 'airlock-signature')?.ok).toBe(true);
  });

  it('fails on a corrupted signature', () => {
    const envelope = signReceipt(toolCall(), { airlock, agent });
    const [first, second] = envelope.signatures;
    const broken = {
      ...envelope,
      signatures: [first, { keyid: '', sig: Buffer.alloc(64, 1).toString('base64') }, second],
    };
    expect(verifyReceiptEnvelope(broken, keys)).toMatchObject({ ok: false, trustLevel: 'Untrusted' });
  });

  it('refuses an agent other than the one expected', () => {
    const result = verifyReceiptEnvelope(signReceipt(toolCall(), { airlock, agent }), {
      ...keys,
      expectedAgentDid: didKeyFromPublicKey(stranger.publicKey),
    });
    expect(result).toMatchObject({ ok: false, trustLevel: 'Untrusted' });
    expect(check(result, 'agent-signature')?.ok).toBe(false);
  });

  it.each([
    ['not an object', 'hello'],
    ['missing payload', { payloadType: IN_TOTO_PAYLOAD_TYPE, signatures: [] }],
    ['no signatures', { payload: 'e30=', payloadType: IN_TOTO_PAYLOAD_TYPE, signatures: [] }],
    [
      'non-canonical base64',
      { payload: 'e30', payloadType: IN_TOTO_PAYLOAD_TYPE, signatures: [{ keyid: '', sig: 'AA==' }] },
    ],
  ])('refuses an envelope that is %s', (_what, envelope) => {
    const result = verifyReceiptEnvelope(envelope, keys);
    expect(result).toMatchObject({ ok: false, trustLevel: 'Untrusted' });
    expect(result.checks).toEqual([expect.objectContaining({ name: 'envelope', ok: false })]);
  });

  it('refuses another payloadType', () => {
    const envelope = signRaw(toolCall(), [airlock], 'application/json');
    expect(check(verifyReceiptEnvelope(envelope, keys), 'payload-type')).toMatchObject({ ok: false });
  });

  it('is strict on OACP predicates and lenient on extra Statement fields, as in-toto allows', () => {
    const statement = toolCall(toolCallPredicate(undefined));
    const extraPredicateField = signRaw({
      ...statement,
      predicate: { ...statement.predicate, sneaky: true },
    });
    const result = verifyReceiptEnvelope(extraPredicateField, keys);
    expect(check(result, 'statement')).toMatchObject({ ok: false, detail: expect.stringMatching(/sneaky/) });
    expect(result.trustLevel).toBe('Untrusted');

    const extraStatementField = signRaw({ ...statement, futureField: 1 });
    expect(verifyReceiptEnvelope(extraStatementField, keys)).toMatchObject({ ok: true, trustLevel: 'Basic' });
  });

  it('refuses subjects that disagree with the predicate', () => {
    const statement = toolCall(toolCallPredicate(undefined));
    const envelope = signRaw({
      ...statement,
      subject: [{ name: 'arguments', digest: { sha256: 'f'.repeat(64) } }],
    });
    expect(check(verifyReceiptEnvelope(envelope, keys), 'statement')?.detail).toMatch(
      /subjects do not match/,
    );
  });

  it.each([
    ['assurance tee with no quote', { assurance: 'tee' }],
    [
      'an empty quote',
      { assurance: 'tee', tee: { platform: 'intel-tdx', quote: '', reportData: 'a'.repeat(64) } },
    ],
    [
      'an all-zero quote',
      {
        assurance: 'tee',
        tee: {
          platform: 'intel-tdx',
          quote: Buffer.alloc(2048).toString('base64'),
          reportData: 'a'.repeat(64),
        },
      },
    ],
    ['a tee block with nothing in it', { assurance: 'tee', tee: {} }],
  ])('refuses a signed statement claiming a TEE with %s', (_what, change) => {
    const statement = toolCall(toolCallPredicate(undefined));
    const envelope = signRaw({ ...statement, predicate: { ...statement.predicate, ...change } });
    const result = verifyReceiptEnvelope(envelope, keys);
    expect(check(result, 'statement')?.ok).toBe(false);
    expect(result).toMatchObject({ ok: false, trustLevel: 'Untrusted' });
  });

  it('refuses a statement that is not in-toto v1', () => {
    const envelope = signRaw({ ...toolCall(), _type: 'https://in-toto.io/Statement/v0.1' });
    expect(check(verifyReceiptEnvelope(envelope, keys), 'statement')?.detail).toMatch(/in-toto Statement v1/);
  });
});

describe('receipt verification: other predicate types', () => {
  const foreign = {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: [{ name: 'pkg.tgz', digest: { sha256: 'a'.repeat(64) } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: { buildDefinition: {} },
  };

  it('refuses an unknown predicate type by default, saying why', () => {
    const result = verifyReceiptEnvelope(signRaw(foreign), keys);
    expect(check(result, 'statement')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/not an OACP type/),
    });
    expect(result.trustLevel).toBe('Untrusted');
  });

  it('can accept one without interpreting its predicate', () => {
    const result = verifyReceiptEnvelope(signRaw(foreign), { ...keys, allowUnknownPredicateTypes: true });
    expect(result).toMatchObject({ ok: true, trustLevel: 'Basic' });
    expect(check(result, 'statement')?.detail).toMatch(/not interpreted/);
    expect(check(result, 'tee-quote')).toBeUndefined();
  });

  it('verifies execution receipts and reports their digest', () => {
    const statement = buildStatement({
      predicateType: EXECUTION_PREDICATE_TYPE,
      predicate: executionPredicate(agent),
    });
    const envelope = signReceipt(statement, { airlock, agent });
    const result = verifyReceiptEnvelope(envelope, keys);
    expect(result).toMatchObject({
      ok: true,
      trustLevel: 'Standard',
      envelopeDigest: envelopeDigest(envelope),
    });
    expect(result.statement?.predicateType).toBe(EXECUTION_PREDICATE_TYPE);
  });
});

describe('receipt verification: faults', () => {
  it('turns an exception inside a check into a failed verification', () => {
    const { statement } = teeStatement();
    const throwing: TeeQuoteVerifier = {
      platforms: ['intel-tdx'],
      verify: () => {
        throw new Error('vendor root store unreadable');
      },
    };
    const result = verifyReceiptEnvelope(signReceipt(statement, { airlock, agent }), {
      ...keys,
      teeVerifier: throwing,
    });
    expect(result).toMatchObject({ ok: false, trustLevel: 'Untrusted' });
    expect(check(result, 'verification')?.detail).toBe('check failed: vendor root store unreadable');
  });
});
