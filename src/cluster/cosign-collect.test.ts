import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEd25519, keySigner, rawPublicKey } from '../core/ed25519.js';
import { signCheckpoint } from '../log/checkpoint.js';
import { addNoteSignature, cosignatureSigner } from '../log/cosignature.js';
import { hashLeaf } from '../log/hash.js';
import { MerkleTree } from '../log/merkle-tree.js';
import { formatNote, parseNote } from '../log/note-format.js';
import {
  ed25519NoteSigner,
  formatVerifierKey,
  SIG_TYPE_COSIGNATURE_V1,
  SIG_TYPE_ED25519,
} from '../log/note-keys.js';
import { OwnCosignatures } from './cosign-collect.js';

/**
 * `oacp log cosigned` (and the gateway at start) read the kept cosigned checkpoint from a file
 * anyone with the home's write access could replace: a cosignature is shown only when it verifies
 * with a witness key the operator pinned (`log.peers[].witness_key` of the `--config` given),
 * never with a key the file, or the log, presents. A real Merkle tree and Ed25519 keys.
 */
const dir = mkdtempSync(join(tmpdir(), 'oacp-cosigned-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const origin = 'oacp.test/node-a';
const logKeys = generateEd25519();
const tree = new MerkleTree();
for (const n of [1, 2, 3]) tree.push(hashLeaf(new TextEncoder().encode(`receipt ${n}`)));
const log = {
  verifierKey: formatVerifierKey(origin, SIG_TYPE_ED25519, rawPublicKey(logKeys.publicKey)),
  get size() {
    return tree.size;
  },
  root: (size: number) => tree.root(size),
};
const checkpoint = signCheckpoint(
  { origin, size: tree.size, root: tree.root(), extensions: [] },
  ed25519NoteSigner(origin, keySigner(logKeys.privateKey)),
);
const witnessName = 'oacp.test/node-b/witness';
const witness = generateEd25519();
const pinned = formatVerifierKey(witnessName, SIG_TYPE_COSIGNATURE_V1, rawPublicKey(witness.publicKey));
const forger = generateEd25519();

async function load(note: string, witnessKeys: readonly string[]) {
  const file = join(dir, `own-${Math.random().toString(16).slice(2)}.cosigned`);
  writeFileSync(file, note);
  const loaded = await OwnCosignatures.open(file, log, witnessKeys);
  return { cosigners: loaded.kept.latest?.cosigners ?? [], rejected: loaded.rejected };
}

describe('kept cosignatures verify only with the pinned witness key', () => {
  it('positive control: the peer witness cosignature verifies with its pinned key', async () => {
    const note = addNoteSignature(
      parseNote(checkpoint),
      cosignatureSigner(witnessName, keySigner(witness.privateKey)),
    );
    expect((await load(note, [pinned])).cosigners).toEqual([witnessName]);
  });

  it('attack: a cosignature forged under the peer witness name with another key is never shown as cosigned', async () => {
    // Its own key ID (the forger's key): no pinned key has it, so nothing verifies it.
    const forged = addNoteSignature(
      parseNote(checkpoint),
      cosignatureSigner(witnessName, keySigner(forger.privateKey)),
    );
    const other = await load(forged, [pinned]);
    expect(other.cosigners).toEqual([]);
    expect(other.rejected).toEqual([expect.objectContaining({ witness: witnessName })]);
    // The pinned key's ID on the forger's signature: checked with the pinned key, a security event.
    const genuineId = parseNote(
      addNoteSignature(parseNote(checkpoint), cosignatureSigner(witnessName, keySigner(witness.privateKey))),
    ).signatures.at(-1)?.keyId;
    const parsed = parseNote(forged);
    const sigs = parsed.signatures.map((sig) =>
      sig.name === witnessName ? { ...sig, keyId: genuineId ?? 0 } : sig,
    );
    const copiedId = await load(formatNote(parsed.text, sigs), [pinned]);
    expect(copiedId.cosigners).toEqual([]);
    expect(copiedId.rejected).toEqual([expect.objectContaining({ witness: witnessName, security: true })]);
  });

  it('attack: with no witness key pinned (no --config), no cosignature is taken on its own word, not even a genuine one', async () => {
    const note = addNoteSignature(
      parseNote(checkpoint),
      cosignatureSigner(witnessName, keySigner(witness.privateKey)),
    );
    const unpinned = await load(note, []);
    expect(unpinned.cosigners).toEqual([]);
    expect(unpinned.rejected).toEqual([expect.objectContaining({ witness: witnessName, security: false })]);
  });
});
