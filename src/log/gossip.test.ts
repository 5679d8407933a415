import { describe, expect, it } from 'vitest';
import { generateEd25519, keySigner, rawPublicKey } from '../core/ed25519.js';
import { signCheckpoint } from './checkpoint.js';
import { gossipCheck } from './gossip.js';
import { emptyRoot, hashLeaf } from './hash.js';
import { MerkleTree } from './merkle-tree.js';
import { ed25519NoteSigner, formatVerifierKey, SIG_TYPE_ED25519 } from './note-keys.js';

const origin = 'example.com/gossip';
const pair = generateEd25519();
const signer = ed25519NoteSigner(origin, keySigner(pair.privateKey));
const vkey = formatVerifierKey(origin, SIG_TYPE_ED25519, rawPublicKey(pair.publicKey));

const local = new MerkleTree();
for (let i = 0; i < 5; i += 1) local.push(hashLeaf(new TextEncoder().encode(`entry ${i}`)));

const peerAt = (root: Uint8Array) => ({
  checkpoint: async () => signCheckpoint({ origin, size: 0, root, extensions: [] }, signer),
  consistency: async () => [],
});

describe('gossip of a size-0 checkpoint', () => {
  it('takes the empty tree as extended by ours', async () => {
    await expect(gossipCheck(local, vkey, peerAt(emptyRoot()))).resolves.toMatchObject({
      how: 'local extends peer',
    });
  });

  it('attack: a size 0 signed with the root of some tree is a fork, not a beginning', async () => {
    await expect(gossipCheck(local, vkey, peerAt(local.root(3)))).rejects.toMatchObject({ code: 'LOG_FORK' });
  });
});
