import { Message } from '@a2a-js/sdk';
import { describe, expect, it } from 'vitest';
import { OACP_A2A_EXTENSION } from '../../src/a2a/extension.js';
import { messageSigningPayload, verifyMessageSignature } from '../../src/a2a/message-signature.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { canonicalize } from '../../src/core/jcs.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { InMemoryNonceStore } from '../../src/identity/nonce-store.js';
import { signRequest } from '../../src/identity/signed-request.js';

const sender = keySigner(generateEd25519().privateKey);
const receiver = didKeyFromPublicKey(keySigner(generateEd25519().privateKey).publicKey);

/**
 * docs/a2a.md "Signed messages", followed step by step as a client in another
 * SDK would, on the wire JSON alone (no OACP or a2a-js helper computes the payload).
 */
function payloadAsDocumented(wire: Record<string, unknown>): string {
  const copy = structuredClone(wire);
  const metadata = (copy.metadata ?? {}) as Record<string, unknown>;
  const entry = metadata[OACP_A2A_EXTENSION] as Record<string, unknown> | undefined;
  if (entry !== undefined) {
    delete entry.signature;
    if (Object.keys(entry).length === 0) delete metadata[OACP_A2A_EXTENSION];
  }
  if (Object.keys(metadata).length === 0) delete copy.metadata;
  return canonicalize(copy);
}

describe('docs/a2a.md: the message-signing payload is exactly what the doc says', () => {
  for (const [name, extra] of [
    [
      'with other metadata and encryptTo',
      { metadata: { trace: 'abc', [OACP_A2A_EXTENSION]: { encryptTo: receiver } } },
    ],
    ['with no other metadata', { metadata: { [OACP_A2A_EXTENSION]: {} } }],
  ] as const) {
    it(`a client that follows the doc is accepted (${name})`, async () => {
      const wire: Record<string, unknown> = {
        messageId: 'm-1',
        role: 'ROLE_USER',
        parts: [{ text: 'hello' }],
        ...structuredClone(extra),
      };
      const signature = signRequest(sender, {
        purpose: `oacp-a2a/message to ${receiver}`,
        payload: payloadAsDocumented(wire),
      });
      const metadata = wire.metadata as Record<string, Record<string, unknown>>;
      metadata[OACP_A2A_EXTENSION] = { ...metadata[OACP_A2A_EXTENSION], signature };
      const received = Message.fromJSON(JSON.parse(JSON.stringify(wire)));
      expect(messageSigningPayload(received)).toBe(payloadAsDocumented(wire));
      const verdict = await verifyMessageSignature(received, signature, {
        agentDid: receiver,
        nonces: new InMemoryNonceStore(),
      });
      expect(verdict).toMatchObject({ ok: true, signer: didKeyFromPublicKey(sender.publicKey) });
    });
  }
});
