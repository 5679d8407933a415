import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEd25519, keySigner, rawPublicKey } from '../core/ed25519.js';
import { signCheckpoint } from './checkpoint.js';
import { verifyCosignatures } from './cosignature.js';
import { hashLeaf } from './hash.js';
import { MerkleTree } from './merkle-tree.js';
import { parseNote } from './note-format.js';
import { ed25519NoteSigner, formatVerifierKey, SIG_TYPE_ED25519 } from './note-keys.js';
import { type CosignRequest, Witness } from './witness.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const origin = 'example.com/log';
const logPair = generateEd25519();
const logSigner = ed25519NoteSigner(origin, keySigner(logPair.privateKey));
const logKey = formatVerifierKey(origin, SIG_TYPE_ED25519, rawPublicKey(logPair.publicKey));

function treeOf(prefix: string, n: number): MerkleTree {
  const tree = new MerkleTree();
  for (let i = 0; i < n; i += 1) tree.push(hashLeaf(new TextEncoder().encode(`${prefix}${i}`)));
  return tree;
}
const tree = treeOf('entry ', 40);
const forked = treeOf('entry ', 20);
for (let i = 20; i < 40; i += 1) forked.push(hashLeaf(new TextEncoder().encode(`other ${i}`)));

function checkpointAt(t: MerkleTree, size: number): string {
  return signCheckpoint({ origin, size, root: t.root(size), extensions: [] }, logSigner);
}

function stateFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-witness-'));
  dirs.push(dir);
  return join(dir, 'witness.json');
}

async function newWitness(path = stateFile(), seed = generateEd25519()) {
  return Witness.open(path, {
    name: 'witness.example/w1',
    signer: keySigner(seed.privateKey),
    now: () => 1700000000,
  });
}

function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  return promise.then(
    () => undefined,
    (error: { code?: string }) => error.code,
  );
}

describe('Witness (c2sp.org/tlog-cosignature)', () => {
  it('cosigns a first checkpoint and then one proven to extend it', async () => {
    const witness = await newWitness();
    const first = await witness.cosign({ logKey, checkpoint: checkpointAt(tree, 10), proof: [] });
    expect(parseNote(first).signatures.map((s) => s.name)).toEqual([origin, 'witness.example/w1']);
    const verdict = verifyCosignatures(first, [witness.verifierKey]);
    expect(verdict.ok && verdict.value[0]?.timestamp).toBe(1700000000);

    const second = await witness.cosign({
      logKey,
      checkpoint: checkpointAt(tree, 30),
      proof: tree.consistencyProof(10, 30),
    });
    expect(verifyCosignatures(second, [witness.verifierKey]).ok).toBe(true);
    expect(witness.latest(origin)?.size).toBe(30);
  });

  it('cosigns the same tree again', async () => {
    const witness = await newWitness();
    await witness.cosign({ logKey, checkpoint: checkpointAt(tree, 10), proof: [] });
    await expect(
      witness.cosign({ logKey, checkpoint: checkpointAt(tree, 10), proof: [] }),
    ).resolves.toContain('witness.example/w1');
  });

  it('refuses a rollback, even after a restart', async () => {
    const path = stateFile();
    const seed = generateEd25519();
    const witness = await newWitness(path, seed);
    await witness.cosign({ logKey, checkpoint: checkpointAt(tree, 30), proof: [] });
    expect(await codeOf(witness.cosign({ logKey, checkpoint: checkpointAt(tree, 29), proof: [] }))).toBe(
      'LOG_WITNESS_ROLLBACK',
    );
    const restarted = await newWitness(path, seed);
    expect(restarted.latest(origin)?.size).toBe(30);
    expect(await codeOf(restarted.cosign({ logKey, checkpoint: checkpointAt(tree, 12), proof: [] }))).toBe(
      'LOG_WITNESS_ROLLBACK',
    );
    expect(JSON.parse(readFileSync(path, 'utf8')).logs[origin].size).toBe(30);
  });

  it('refuses a fork: another root at the same size, or a larger tree that does not extend', async () => {
    const witness = await newWitness();
    await witness.cosign({ logKey, checkpoint: checkpointAt(tree, 30), proof: [] });
    expect(await codeOf(witness.cosign({ logKey, checkpoint: checkpointAt(forked, 30), proof: [] }))).toBe(
      'LOG_WITNESS_FORK',
    );
    const forkedProof = forked.consistencyProof(30, 40);
    expect(
      await codeOf(witness.cosign({ logKey, checkpoint: checkpointAt(forked, 40), proof: forkedProof })),
    ).toBe('LOG_WITNESS_FORK');
    expect(await codeOf(witness.cosign({ logKey, checkpoint: checkpointAt(tree, 40), proof: [] }))).toBe(
      'LOG_WITNESS_FORK',
    );
    expect(witness.latest(origin)?.size).toBe(30);
  });

  it('refuses a signed size 0 whose root is not the empty tree, and cosigns the true empty tree', async () => {
    const witness = await newWitness();
    const noTree = signCheckpoint({ origin, size: 0, root: tree.root(5), extensions: [] }, logSigner);
    expect(await codeOf(witness.cosign({ logKey, checkpoint: noTree, proof: [] }))).toBe('LOG_WITNESS_FORK');
    expect(witness.latest(origin)).toBeUndefined();
    await witness.cosign({ logKey, checkpoint: checkpointAt(tree, 0), proof: [] });
    expect(witness.latest(origin)?.size).toBe(0);
  });

  it('refuses checkpoints not signed by the log key, and malformed ones', async () => {
    const witness = await newWitness();
    const impostor = ed25519NoteSigner(origin, keySigner(generateEd25519().privateKey));
    const forged = signCheckpoint({ origin, size: 5, root: tree.root(5), extensions: [] }, impostor);
    expect(await codeOf(witness.cosign({ logKey, checkpoint: forged, proof: [] }))).toBe(
      'LOG_UNTRUSTED_NOTE',
    );
    expect(await codeOf(witness.cosign({ logKey, checkpoint: 'garbage', proof: [] }))).toBe(
      'LOG_MALFORMED_NOTE',
    );
    expect(
      await codeOf(witness.cosign({ logKey: 'nope', checkpoint: checkpointAt(tree, 5), proof: [] })),
    ).toBe('LOG_MALFORMED_VKEY');
    expect(witness.latest(origin)).toBeUndefined();
  });

  it('refuses a proof on the first checkpoint, and junk proof hashes, with a reason', async () => {
    const witness = await newWitness();
    expect(
      await codeOf(
        witness.cosign({ logKey, checkpoint: checkpointAt(tree, 10), proof: tree.consistencyProof(5, 10) }),
      ),
    ).toBe('LOG_CONSISTENCY_FAILED');
    await witness.cosign({ logKey, checkpoint: checkpointAt(tree, 10), proof: [] });
    const short = [new Uint8Array(3)];
    expect(await codeOf(witness.cosign({ logKey, checkpoint: checkpointAt(tree, 20), proof: short }))).toBe(
      'LOG_WITNESS_FORK',
    );
    const junk = [new Uint8Array(3), 'x'] as unknown as Uint8Array[];
    expect(await codeOf(witness.cosign({ logKey, checkpoint: checkpointAt(tree, 20), proof: junk }))).toBe(
      'LOG_MALFORMED_PROOF',
    );
    expect(await codeOf(witness.cosign(undefined as unknown as CosignRequest))).toBe('LOG_MALFORMED_PROOF');
    expect(witness.latest(origin)?.size).toBe(10);
  });

  it('refuses to start from a damaged state file rather than forget what it cosigned', async () => {
    const path = stateFile();
    writeFileSync(path, '{"version":1,"logs":{"example.com/log":{"size":-1,"root":"x"}}}');
    await expect(newWitness(path)).rejects.toMatchObject({ code: 'LOG_WITNESS_STATE' });
  });

  it('keeps its order when the clock goes backwards: extensions cosigned, forks and rollbacks still refused', async () => {
    // Attack: the witness host's clock set back (NTP step, a VM restored). Order comes from tree
    // sizes and consistency proofs, never from time; cosignature timestamps just say when.
    const clock = { now: 1700000000 };
    const witness = await Witness.open(stateFile(), {
      name: 'witness.example/w1',
      signer: keySigner(generateEd25519().privateKey),
      now: () => clock.now,
    });
    await witness.cosign({ logKey, checkpoint: checkpointAt(tree, 10), proof: [] });
    clock.now = 1600000000;
    const later = await witness.cosign({
      logKey,
      checkpoint: checkpointAt(tree, 30),
      proof: tree.consistencyProof(10, 30),
    });
    const verdict = verifyCosignatures(later, [witness.verifierKey]);
    expect(verdict.ok && verdict.value[0]?.timestamp).toBe(1600000000);
    clock.now = 1500000000;
    expect(
      await codeOf(
        witness.cosign({
          logKey,
          checkpoint: checkpointAt(forked, 30),
          proof: forked.consistencyProof(10, 30),
        }),
      ),
    ).toBe('LOG_WITNESS_FORK');
    expect(await codeOf(witness.cosign({ logKey, checkpoint: checkpointAt(tree, 20), proof: [] }))).toBe(
      'LOG_WITNESS_ROLLBACK',
    );
    expect(witness.latest(origin)?.size).toBe(30);
    clock.now = -1;
    expect(
      await codeOf(
        witness.cosign({ logKey, checkpoint: checkpointAt(tree, 40), proof: tree.consistencyProof(30, 40) }),
      ),
    ).toBe('LOG_COSIGNATURE_FAILED');
    expect(witness.latest(origin)?.size).toBe(30);
  });
});
