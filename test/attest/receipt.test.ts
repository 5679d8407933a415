import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { envelopePayload, pae } from '../../src/attest/dsse.js';
import { EXECUTION_PREDICATE_TYPE } from '../../src/attest/execution.js';
import {
  buildStatement,
  envelopeBytes,
  envelopeDigest,
  parseEnvelopeBytes,
  signReceipt,
  statementBytes,
} from '../../src/attest/receipt.js';
import { IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_TYPE } from '../../src/attest/statement.js';
import { TOOL_CALL_PREDICATE_TYPE } from '../../src/attest/tool-call.js';
import { verifyEd25519 } from '../../src/core/ed25519.js';
import { canonicalize, jcsDigest } from '../../src/core/jcs.js';
import { executionPredicate, newSigner, quoteShapedBytes, toolCallPredicate } from './fixtures.js';

const airlock = newSigner();
const agent = newSigner();

/** Rebuilds an object with its keys in reverse order, recursively. */
function reversed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversed);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([k, v]) => [k, reversed(v)]),
  );
}

describe('building statements', () => {
  it('makes an in-toto Statement v1 whose subjects are the argument and result digests', () => {
    const predicate = toolCallPredicate(agent);
    const statement = buildStatement({ predicateType: TOOL_CALL_PREDICATE_TYPE, predicate });
    expect(statement._type).toBe(IN_TOTO_STATEMENT_TYPE);
    expect(statement.subject).toEqual([
      { name: 'arguments', digest: { sha256: predicate.argumentsDigest } },
      { name: 'result', digest: { sha256: predicate.resultDigest } },
    ]);
    expect(statement.predicate.assurance).toBe('software');
    expect(statement.predicate).not.toHaveProperty('tee');
  });

  it('makes an execution statement about its outputs', () => {
    const predicate = executionPredicate(agent);
    const statement = buildStatement({ predicateType: EXECUTION_PREDICATE_TYPE, predicate });
    expect(statement.subject).toEqual([{ name: 'outputs', digest: { sha256: predicate.outputsDigest } }]);
  });

  it('has stable JCS digests and payload bytes whatever the key order', () => {
    expect(jcsDigest({ a: 1, b: { c: [1, 2], d: 'x' } })).toBe(jcsDigest({ b: { d: 'x', c: [1, 2] }, a: 1 }));
    const predicate = toolCallPredicate(agent);
    const one = buildStatement({ predicateType: TOOL_CALL_PREDICATE_TYPE, predicate });
    const two = buildStatement({
      predicateType: TOOL_CALL_PREDICATE_TYPE,
      predicate: reversed(predicate) as typeof predicate,
    });
    expect(statementBytes(two)).toEqual(statementBytes(one));
    // Ed25519 is deterministic, so the logged bytes are identical too.
    expect(envelopeBytes(signReceipt(two, { airlock }))).toEqual(
      envelopeBytes(signReceipt(one, { airlock })),
    );
  });

  it('payload bytes of a built statement are its JCS form, whatever text and numbers the predicate holds', () => {
    // Built statements are written by JSON.stringify over a tree in JCS order (jcsOrderedCopy); the
    // generic writer stays the reference, for the fast path and for a statement that was copied.
    const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 });
    const count = fc.double({ min: 0, max: 1e22, noNaN: true });
    fc.assert(
      fc.property(
        text,
        text,
        text,
        count,
        count,
        fc.boolean(),
        (tool, reason, client, wallMs, durationMs, deny) => {
          const base = toolCallPredicate(undefined);
          const predicate = {
            ...base,
            agent: { clientId: client.slice(0, 256) },
            tool: { ...base.tool, name: tool },
            policy: { ...base.policy, effect: deny ? ('deny' as const) : ('allow' as const), reason },
            usage: { ...base.usage, wallMs },
            durationMs,
            ...(deny ? { resultDigest: undefined } : {}),
          };
          const built = buildStatement({ predicateType: TOOL_CALL_PREDICATE_TYPE, predicate });
          const expected = Buffer.from(canonicalize(built), 'utf8');
          expect(statementBytes(built)).toEqual(expected);
          expect(statementBytes({ ...built })).toEqual(expected);
          const again = buildStatement({
            predicateType: TOOL_CALL_PREDICATE_TYPE,
            predicate: reversed(predicate) as typeof predicate,
          });
          expect(statementBytes(again)).toEqual(expected);
        },
      ),
      { numRuns: 100 },
    );
    const execution = buildStatement({
      predicateType: EXECUTION_PREDICATE_TYPE,
      predicate: executionPredicate(agent),
    });
    expect(statementBytes(execution).toString('utf8')).toBe(canonicalize(execution));
  });

  const refusals: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an unknown field', { extra: 1 }, /Unrecognized key/],
    ['a digest in upper case', { argumentsDigest: 'A'.repeat(64) }, /argumentsDigest/],
    ['a tool without a name', { tool: { name: '', definitionDigest: 'a'.repeat(64) } }, /tool\.name/],
    ['an agent that is not a did:key', { agent: { did: 'did:web:example.com' } }, /agent\.did/],
    ['an agent with no identity', { agent: {} }, /agent/],
    ['a finish before the start', { finishedAt: '2025-12-31T23:59:59.000Z' }, /finishedAt/],
    ['an unknown tier', { tier: 'ludicrous' }, /tier/],
    [
      'a denied call with a result',
      { policy: { effect: 'deny', reason: 'no', policyDigest: 'a'.repeat(64) } },
      /denied call has no result/,
    ],
    [
      'negative usage',
      {
        usage: {
          wallMs: -1,
          cpuMs: 0,
          memoryPeakBytes: 0,
          egressRequests: 0,
          egressDenied: 0,
          outputBytes: 0,
        },
      },
      /usage\.wallMs/,
    ],
  ];
  it.each(refusals)('refuses a tool-call predicate with %s', (_what, change, message) => {
    const predicate = { ...toolCallPredicate(agent), ...change } as ReturnType<typeof toolCallPredicate>;
    expect(() => buildStatement({ predicateType: TOOL_CALL_PREDICATE_TYPE, predicate })).toThrow(
      expect.objectContaining({ code: 'ATTEST_STATEMENT_INVALID', message: expect.stringMatching(message) }),
    );
  });

  it('accepts a denied call without a result, and then has only the arguments as subject', () => {
    const { resultDigest: _omit, ...rest } = toolCallPredicate(agent);
    const statement = buildStatement({
      predicateType: TOOL_CALL_PREDICATE_TYPE,
      predicate: {
        ...rest,
        policy: { effect: 'deny', reason: 'outside workspace', policyDigest: 'b'.repeat(64) },
      },
    });
    expect(statement.subject.map((s) => s.name)).toEqual(['arguments']);
  });

  it('refuses an unknown predicate type', () => {
    const input = { predicateType: 'https://example.com/other/v1', predicate: {} } as unknown as Parameters<
      typeof buildStatement
    >[0];
    expect(() => buildStatement(input)).toThrow(
      expect.objectContaining({ code: 'ATTEST_UNKNOWN_PREDICATE' }),
    );
  });
});

describe('TEE claims', () => {
  const claims: Array<[string, Record<string, unknown>, RegExp]> = [
    ['assurance tee with no quote', { assurance: 'tee' }, /tee: assurance 'tee' needs a TEE quote/],
    ['tier tee with no quote', { tier: 'tee' }, /tee: tier 'tee' needs a TEE quote/],
    [
      'an empty quote',
      { assurance: 'tee', tee: { platform: 'intel-tdx', quote: '', reportData: 'a'.repeat(64) } },
      /TEE quote is 0 bytes/,
    ],
    [
      'a placeholder text quote',
      {
        assurance: 'tee',
        tee: {
          platform: 'intel-tdx',
          quote: Buffer.from(
            'TODO placeholder quote: the quick brown fox jumps over the lazy dog 0123456789. '.repeat(8),
          ).toString('base64'),
          reportData: 'a'.repeat(64),
        },
      },
      /printable text/,
    ],
    [
      'an all-zero quote',
      {
        assurance: 'tee',
        tee: {
          platform: 'amd-sev-snp',
          quote: Buffer.alloc(1184).toString('base64'),
          reportData: 'a'.repeat(64),
        },
      },
      /byte variety/,
    ],
    [
      'a short quote',
      {
        assurance: 'tee',
        tee: {
          platform: 'aws-nitro',
          quote: Buffer.from([1, 2, 3, 200]).toString('base64'),
          reportData: 'a'.repeat(64),
        },
      },
      /4 bytes/,
    ],
    ['a tee block without fields', { assurance: 'tee', tee: {} }, /tee\.platform/],
    [
      'a quote with software assurance',
      { tee: { platform: 'intel-tdx', quote: quoteShapedBytes(), reportData: 'a'.repeat(64) } },
      /assurance: must be 'tee'/,
    ],
    [
      'an unknown platform',
      { assurance: 'tee', tee: { platform: 'none', quote: quoteShapedBytes(), reportData: 'a'.repeat(64) } },
      /tee\.platform/,
    ],
  ];
  it.each(claims)('refuses %s', (_what, change, message) => {
    const predicate = { ...toolCallPredicate(agent), ...change } as ReturnType<typeof toolCallPredicate>;
    expect(() => buildStatement({ predicateType: TOOL_CALL_PREDICATE_TYPE, predicate })).toThrow(message);
  });
});

describe('signing receipts', () => {
  const statement = buildStatement({
    predicateType: TOOL_CALL_PREDICATE_TYPE,
    predicate: toolCallPredicate(agent),
  });

  it('makes a DSSE envelope with one signature per signer and empty keyids', () => {
    const envelope = signReceipt(statement, { airlock, agent });
    expect(envelope.payloadType).toBe(IN_TOTO_PAYLOAD_TYPE);
    expect(envelope.signatures).toHaveLength(2);
    expect(envelope.signatures.every((s) => s.keyid === '')).toBe(true);
    const message = pae(envelope.payloadType, envelopePayload(envelope));
    const [first, second] = envelope.signatures.map((s) => Buffer.from(s.sig, 'base64'));
    expect(first !== undefined && verifyEd25519(agent.publicKey, message, first)).toBe(true);
    expect(second !== undefined && verifyEd25519(airlock.publicKey, message, second)).toBe(true);
    expect(envelopePayload(envelope)).toEqual(statementBytes(statement));
  });

  it('refuses to sign with nobody', () => {
    expect(() => signReceipt(statement, {})).toThrow(expect.objectContaining({ code: 'ATTEST_NO_SIGNER' }));
  });

  it('refuses an agent signer other than the agent the statement names', () => {
    expect(() => signReceipt(statement, { agent: newSigner() })).toThrow(
      expect.objectContaining({ code: 'ATTEST_SIGNER_MISMATCH' }),
    );
    const anonymous = buildStatement({
      predicateType: TOOL_CALL_PREDICATE_TYPE,
      predicate: toolCallPredicate(undefined),
    });
    expect(() => signReceipt(anonymous, { agent })).toThrow(
      expect.objectContaining({ code: 'ATTEST_SIGNER_MISMATCH' }),
    );
  });

  it('refuses to sign a statement that was altered after building', () => {
    const altered = { ...statement, subject: [{ name: 'arguments', digest: { sha256: 'f'.repeat(64) } }] };
    expect(() => signReceipt(altered, { airlock })).toThrow(
      expect.objectContaining({
        code: 'ATTEST_STATEMENT_INVALID',
        message: expect.stringMatching(/subjects/),
      }),
    );
  });

  it('serializes envelopes deterministically and reads them back', () => {
    const envelope = signReceipt(statement, { airlock });
    const bytes = envelopeBytes(envelope);
    const reordered = {
      signatures: envelope.signatures,
      payloadType: envelope.payloadType,
      payload: envelope.payload,
    };
    expect(envelopeBytes(reordered)).toEqual(bytes);
    expect(bytes.toString('utf8')).toBe(
      `{"payload":"${envelope.payload}","payloadType":"${IN_TOTO_PAYLOAD_TYPE}","signatures":[{"keyid":"","sig":"${envelope.signatures[0]?.sig}"}]}`,
    );
    expect(parseEnvelopeBytes(bytes)).toEqual(envelope);
    expect(envelopeDigest(envelope)).toMatch(/^[0-9a-f]{64}$/);
    expect(() => parseEnvelopeBytes(Buffer.from('nope'))).toThrow(
      expect.objectContaining({ code: 'ATTEST_ENVELOPE_INVALID' }),
    );
  });
});
