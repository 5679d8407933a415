import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateEd25519, keySigner, rawPublicKey } from '../core/ed25519.js';
import { openCheckpoint, signCheckpoint } from './checkpoint.js';
import { verifyCosignatures } from './cosignature.js';
import { ed25519NoteSigner, formatVerifierKey, SIG_TYPE_ED25519 } from './note-keys.js';
import { verifyNote } from './note-verify.js';
import { verifyConsistency, verifyInclusion } from './proof-verify.js';
import { formatTlogProof } from './tlog-proof.js';
import { verifyTlogProof } from './tlog-proof-verify.js';

const pair = generateEd25519();
const origin = 'example.com/log';
const vkey = formatVerifierKey(origin, SIG_TYPE_ED25519, rawPublicKey(pair.publicKey));
const checkpoint = signCheckpoint(
  { origin, size: 1, root: new Uint8Array(32), extensions: [] },
  ed25519NoteSigner(origin, keySigner(pair.privateKey)),
);
const proofFile = formatTlogProof({ index: 0, proof: [], checkpoint });

/** Any JS value at all, as a peer or a careless caller might pass. */
const anything = fc.anything({ withTypedArray: true, withNullPrototype: true });
/** Text close to valid: the real thing with a random edit, which reaches deeper into parsers. */
const mutated = (base: string) =>
  fc
    .tuple(fc.nat({ max: base.length }), fc.nat({ max: 8 }), fc.string({ maxLength: 8 }))
    .map(([at, cut, insert]) => base.slice(0, at) + insert + base.slice(at + cut));

type Fn = (...args: never[]) => unknown;

/** Calls `fn` and requires a refusal value or an OacpError, never another exception. */
function refusesCleanly(fn: () => unknown): void {
  try {
    const result = fn() as { ok?: unknown };
    expect(typeof result.ok).toBe('boolean');
  } catch (error) {
    expect((error as { name?: string }).name).toBe('OacpError');
  }
}

describe('verification never throws a TypeError on malformed input', () => {
  const targets: Array<[string, Fn]> = [
    ['verifyNote', verifyNote as Fn],
    ['openCheckpoint', openCheckpoint as Fn],
    ['verifyCosignatures', verifyCosignatures as Fn],
    ['verifyTlogProof', verifyTlogProof as Fn],
    ['verifyInclusion', verifyInclusion as Fn],
    ['verifyConsistency', verifyConsistency as Fn],
  ];
  for (const [name, fn] of targets) {
    it(`${name} with arbitrary arguments`, () => {
      fc.assert(
        fc.property(fc.array(anything, { maxLength: 5 }), (args) => {
          refusesCleanly(() => (fn as (...a: unknown[]) => unknown)(...args));
        }),
        { numRuns: 300 },
      );
    });
  }

  it('verifyTlogProof and openCheckpoint with near-valid text', () => {
    fc.assert(
      fc.property(mutated(proofFile), (text) => {
        refusesCleanly(() => verifyTlogProof(text, { entry: new Uint8Array(), logKey: vkey }));
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(mutated(checkpoint), mutated(vkey), (text, key) => {
        refusesCleanly(() => openCheckpoint(text, key));
      }),
      { numRuns: 500 },
    );
  });
});
