import { describe, expect, it } from 'vitest';
import { generateEd25519, keySigner, rawPublicKey } from '../core/ed25519.js';
import { signCheckpoint } from './checkpoint.js';
import { addNoteSignature, cosignatureSigner } from './cosignature.js';
import { hashLeaf } from './hash.js';
import { MerkleTree } from './merkle-tree.js';
import { parseNote } from './note-format.js';
import {
  ed25519NoteSigner,
  formatVerifierKey,
  SIG_TYPE_COSIGNATURE_V1,
  SIG_TYPE_ED25519,
} from './note-keys.js';
import { formatTlogProof, parseTlogProof } from './tlog-proof.js';
import { verifyTlogProof } from './tlog-proof-verify.js';

const origin = 'example.com/log';
const logKeys = generateEd25519();
const logVkey = formatVerifierKey(origin, SIG_TYPE_ED25519, rawPublicKey(logKeys.publicKey));
const entries = Array.from({ length: 11 }, (_, i) => new TextEncoder().encode(`receipt ${i}`));
const tree = new MerkleTree();
for (const entry of entries) tree.push(hashLeaf(entry));
const checkpoint = signCheckpoint(
  { origin, size: tree.size, root: tree.root(), extensions: [] },
  ed25519NoteSigner(origin, keySigner(logKeys.privateKey)),
);
const proofText = formatTlogProof({ index: 6, proof: tree.inclusionProof(6), checkpoint });

describe('c2sp.org/tlog-proof@v1 format', () => {
  it('writes header, index, one base64 hash per line, a blank line, then the checkpoint verbatim', () => {
    const lines = proofText.split('\n');
    expect(lines[0]).toBe('c2sp.org/tlog-proof@v1');
    expect(lines[1]).toBe('index 6');
    const hashes = tree.inclusionProof(6).map((h) => Buffer.from(h).toString('base64'));
    expect(lines.slice(2, 2 + hashes.length)).toEqual(hashes);
    expect(lines[2 + hashes.length]).toBe('');
    expect(proofText.endsWith(`\n\n${checkpoint}`)).toBe(true);
  });

  it('round-trips, with and without extra data', () => {
    const parsed = parseTlogProof(proofText);
    expect(parsed.index).toBe(6);
    expect(parsed.checkpoint).toBe(checkpoint);
    expect(parsed.extra).toBeUndefined();
    const withExtra = formatTlogProof({ ...parsed, extra: new Uint8Array([1, 2, 3]) });
    expect(withExtra.split('\n')[1]).toBe('extra AQID');
    expect(Array.from(parseTlogProof(withExtra).extra ?? [])).toEqual([1, 2, 3]);
  });

  it('rejects damaged files and says what failed', () => {
    const lines = proofText.split('\n');
    const blank = lines.indexOf('');
    const bad: Record<string, [string, RegExp]> = {
      'wrong header': [proofText.replace('tlog-proof@v1', 'tlog-proof@v2'), /first line/],
      'missing index': [proofText.replace('index 6\n', ''), /expected "index/],
      'leading zero index': [proofText.replace('index 6', 'index 06'), /expected "index/],
      'extra after index': [proofText.replace('index 6\n', 'index 6\nextra AQID\n'), /proof line/],
      'index before header': [[lines[1], lines[0], ...lines.slice(2)].join('\n'), /first line/],
      'bad extra': [proofText.replace('index 6\n', 'extra !!\nindex 6\n'), /extra data/],
      'extra without space': [proofText.replace('index 6\n', 'extraAQID\nindex 6\n'), /extra data/],
      'bad base64 hash': [proofText.replace(lines[2] ?? '', `${(lines[2] ?? '').slice(0, -2)}*=`), /line 3/],
      'short hash': [proofText.replace(lines[2] ?? '', 'AQID'), /line 3/],
      'unknown line': [proofText.replace('index 6\n', 'index 6\nnote hello\n'), /line 3/],
      'truncated before checkpoint': [lines.slice(0, blank).join('\n'), /truncated/],
      'truncated checkpoint': [proofText.slice(0, proofText.lastIndexOf('\u2014')), /checkpoint/],
      'checkpoint without signature': [`${lines.slice(0, blank + 4).join('\n')}\n`, /checkpoint/],
    };
    for (const [what, [text, message]] of Object.entries(bad)) {
      expect(() => parseTlogProof(text), what).toThrow(
        expect.objectContaining({
          code: 'LOG_MALFORMED_PROOF_FILE',
          message: expect.stringMatching(message),
        }),
      );
    }
  });
});

describe('verifying a tlog-proof', () => {
  it('accepts the right entry under the log key', () => {
    const verdict = verifyTlogProof(proofText, { entry: entries[6] ?? new Uint8Array(), logKey: logVkey });
    expect(verdict.ok && verdict.value.checkpoint.size).toBe(11);
  });

  it('refuses another entry, another log key, another origin and a malformed file', () => {
    const wrongEntry = verifyTlogProof(proofText, { entry: entries[5] ?? new Uint8Array(), logKey: logVkey });
    expect(wrongEntry.ok || wrongEntry.code).toBe('LOG_INCLUSION_FAILED');
    const other = formatVerifierKey(origin, SIG_TYPE_ED25519, rawPublicKey(generateEd25519().publicKey));
    const wrongKey = verifyTlogProof(proofText, { entry: entries[6] ?? new Uint8Array(), logKey: other });
    expect(wrongKey.ok || wrongKey.code).toBe('LOG_UNTRUSTED_NOTE');
    const wrongOrigin = verifyTlogProof(proofText, {
      entry: entries[6] ?? new Uint8Array(),
      logKey: logVkey,
      origin: 'example.com/other',
    });
    expect(wrongOrigin.ok || wrongOrigin.code).toBe('LOG_ORIGIN_MISMATCH');
    const malformed = verifyTlogProof('nonsense', { entry: new Uint8Array(), logKey: logVkey });
    expect(malformed.ok || malformed.code).toBe('LOG_MALFORMED_PROOF_FILE');
    const noLeaf = verifyTlogProof(proofText, { logKey: logVkey });
    expect(noLeaf.ok || noLeaf.code).toBe('LOG_MALFORMED_PROOF');
  });

  it('applies a witness policy to the checkpoint inside the proof', () => {
    const witness = generateEd25519();
    const wName = 'witness.example/w1';
    const wKey = formatVerifierKey(wName, SIG_TYPE_COSIGNATURE_V1, rawPublicKey(witness.publicKey));
    const policy = {
      entry: entries[6] ?? new Uint8Array(),
      logKey: logVkey,
      witnessKeys: [wKey],
      witnessThreshold: 1,
    };
    const uncosigned = verifyTlogProof(proofText, policy);
    expect(uncosigned.ok || uncosigned.code).toBe('LOG_COSIGNATURE_FAILED');
    const cosigned = addNoteSignature(
      parseNote(checkpoint),
      cosignatureSigner(wName, keySigner(witness.privateKey)),
    );
    const withWitness = formatTlogProof({ index: 6, proof: tree.inclusionProof(6), checkpoint: cosigned });
    const verdict = verifyTlogProof(withWitness, policy);
    expect(verdict.ok && verdict.value.cosignatures.map((c) => c.name)).toEqual([wName]);
  });
});
