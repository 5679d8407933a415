import type { AgentCard } from '@a2a-js/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { callA2aAgent } from '../../src/a2a/client.js';
import { OACP_A2A_EXTENSION } from '../../src/a2a/extension.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { startPlainServer } from './plain-server.js';

describe('the OACP client against a server built with @a2a-js/sdk alone', () => {
  const servers: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  it('works and says Untrusted: an unsigned card and no receipts', async () => {
    const plain = await startPlainServer();
    servers.push(plain);
    const signer = keySigner(generateEd25519().privateKey);
    for (const stream of [false, true]) {
      const result = await callA2aAgent({ url: plain.url, text: 'hello', signer, stream });
      expect(result.card).toMatchObject({ status: 'plain', reason: expect.stringMatching(/no signature/) });
      expect(result.state).toBe('completed');
      expect(result.artifacts.map((artifact) => artifact.text)).toEqual(['plain says: hello']);
      expect(result.trustLevel).toBe('Untrusted');
    }
  });

  it('refuses to send to a card that claims OACP attestation without a valid signature', async () => {
    const forged = keySigner(generateEd25519().privateKey);
    const plain = await startPlainServer((card: AgentCard) => ({
      ...card,
      capabilities: {
        ...(card.capabilities ?? { extensions: [] }),
        extensions: [
          {
            uri: OACP_A2A_EXTENSION,
            description: 'claims to be attested',
            required: false,
            params: {
              did: didKeyFromPublicKey(forged.publicKey),
              tier: 'tee',
              manifestDigest: '00'.repeat(32),
              airlockKeys: [Buffer.alloc(32, 1).toString('base64')],
              receipts: 'http://127.0.0.1:1/v1/receipts/{index}',
              log: { origin: 'fake', verifierKey: 'fake+00000000+AA', checkpoint: 'http://127.0.0.1:1/c' },
              signedMessagesRequired: false,
            },
          },
        ],
      },
    }));
    servers.push(plain);
    await expect(callA2aAgent({ url: plain.url, text: 'secret' })).rejects.toMatchObject({
      code: 'A2A_CARD_INVALID',
      message: expect.stringMatching(/refusing to send: card signature: the card carries no signatures/),
    });
  });

  it('refuses a plain card when the caller pinned an OACP agent did', async () => {
    const plain = await startPlainServer();
    servers.push(plain);
    const did = didKeyFromPublicKey(keySigner(generateEd25519().privateKey).publicKey);
    await expect(callA2aAgent({ url: plain.url, text: 'x', expectDid: did })).rejects.toMatchObject({
      code: 'A2A_CARD_INVALID',
    });
  });
});
