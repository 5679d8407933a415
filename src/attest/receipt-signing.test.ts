import { describe, expect, it } from 'vitest';
import { executionPredicate, newSigner, toolCallPredicate } from '../../test/attest/fixtures.js';
import { canonicalize } from '../core/jcs.js';
import { EXECUTION_PREDICATE_TYPE } from './execution.js';
import type { OacpStatement } from './oacp-statement.js';
import { type AsyncSigner, buildStatement, envelopeBytes, signReceipt, signReceiptAsync } from './receipt.js';
import { TOOL_CALL_PREDICATE_TYPE } from './tool-call.js';

const airlock = newSigner();
const agent = newSigner();

/** A signer that answers on a later turn of the event loop, as a worker pool does. */
function later(signer: AsyncSigner): AsyncSigner {
  return {
    publicKey: signer.publicKey,
    sign: (message) =>
      new Promise((resolve) => setImmediate(() => resolve(signer.sign(message) as Uint8Array))),
  };
}

const statements: Array<[string, OacpStatement]> = [
  [
    'an anonymous tool call',
    buildStatement({ predicateType: TOOL_CALL_PREDICATE_TYPE, predicate: toolCallPredicate(undefined) }),
  ],
  [
    'an agent tool call',
    buildStatement({ predicateType: TOOL_CALL_PREDICATE_TYPE, predicate: toolCallPredicate(agent) }),
  ],
  [
    'an agent execution',
    buildStatement({ predicateType: EXECUTION_PREDICATE_TYPE, predicate: executionPredicate(agent) }),
  ],
  [
    'an execution with text to escape',
    buildStatement({
      predicateType: EXECUTION_PREDICATE_TYPE,
      predicate: {
        ...executionPredicate(undefined),
        exit: { code: 1, signal: null, killedBy: 'é "quoted" \\ \u2028' },
      },
    }),
  ],
];

describe('signReceiptAsync', () => {
  it.each(statements)(
    'signs %s exactly as signReceipt, and its bytes are the JCS of the envelope',
    async (_what, statement) => {
      const named = statement.predicate.agent?.did !== undefined;
      const sync = signReceipt(statement, named ? { airlock, agent } : { airlock });
      for (const signers of [
        named ? { airlock, agent } : { airlock },
        named ? { airlock: later(airlock), agent: later(agent) } : { airlock: later(airlock) },
      ]) {
        const { envelope, bytes } = await signReceiptAsync(statement, signers);
        expect(envelope).toEqual(sync);
        expect(bytes).toEqual(envelopeBytes(envelope));
      }
    },
  );

  it('signs with the agent alone', async () => {
    const statement = statements[1]?.[1] as OacpStatement;
    const { envelope, bytes } = await signReceiptAsync(statement, { agent: later(agent) });
    expect(envelope).toEqual(signReceipt(statement, { agent }));
    expect(bytes).toEqual(envelopeBytes(envelope));
  });

  it('keeps every refusal of signReceipt', async () => {
    const anonymous = statements[0]?.[1] as OacpStatement;
    await expect(signReceiptAsync(anonymous, {})).rejects.toMatchObject({ code: 'ATTEST_NO_SIGNER' });
    await expect(signReceiptAsync(anonymous, { airlock, agent: later(agent) })).rejects.toMatchObject({
      code: 'ATTEST_SIGNER_MISMATCH',
    });
    const altered = { ...anonymous, subject: [{ name: 'arguments', digest: { sha256: 'f'.repeat(64) } }] };
    await expect(signReceiptAsync(altered, { airlock })).rejects.toMatchObject({
      code: 'ATTEST_STATEMENT_INVALID',
    });
  });
});

describe('built statements', () => {
  const built = statements[1]?.[1] as OacpStatement;

  it('are frozen all the way down, so what was checked is what gets signed', () => {
    expect(Object.isFrozen(built)).toBe(true);
    expect(() => {
      (built.predicate as { tier: string }).tier = 'gvisor';
    }).toThrow(TypeError);
    expect(() => {
      (built.subject[0]?.digest as Record<string, string>).sha256 = 'f'.repeat(64);
    }).toThrow(TypeError);
    expect(() => {
      (built.subject as unknown[]).push({ name: 'extra', digest: { sha256: 'f'.repeat(64) } });
    }).toThrow(TypeError);
  });

  it('carry nothing extra into their JSON', () => {
    // Members in JCS order (jcsOrderedCopy): their JSON is the payload's JCS form.
    expect(Object.keys(built)).toEqual(['_type', 'predicate', 'predicateType', 'subject']);
    expect(JSON.stringify(built)).toBe(canonicalize(built));
    expect(JSON.parse(JSON.stringify(built))).toEqual(built);
  });

  it('lose their mark when copied, so a frozen copy with a changed field is checked again and refused', () => {
    const forged = Object.freeze({
      ...built,
      predicate: { ...built.predicate, tier: 'not-a-tier' },
    }) as unknown as OacpStatement;
    expect(() => signReceipt(forged, { airlock, agent })).toThrow(
      expect.objectContaining({ code: 'ATTEST_STATEMENT_INVALID' }),
    );
    const wrongSubjects = Object.freeze({
      ...built,
      subject: [{ name: 'arguments', digest: { sha256: 'f'.repeat(64) } }],
    });
    expect(() => signReceipt(wrongSubjects, { airlock })).toThrow(
      expect.objectContaining({
        code: 'ATTEST_STATEMENT_INVALID',
        message: expect.stringMatching(/subjects/),
      }),
    );
  });

  it('sign the same as a fresh, unmarked copy that passes the full checks', () => {
    const copy = structuredClone(built);
    expect(Object.isFrozen(copy)).toBe(false);
    expect(signReceipt(copy, { airlock, agent })).toEqual(signReceipt(built, { airlock, agent }));
  });
});
