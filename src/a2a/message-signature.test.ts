import { Message, Role } from '@a2a-js/sdk';
import { describe, expect, it } from 'vitest';
import { generateEd25519, keySigner } from '../core/ed25519.js';
import { didKeyFromPublicKey } from '../identity/did-key.js';
import { InMemoryNonceStore } from '../identity/nonce-store.js';
import { MessageExtensionSchema, OACP_A2A_EXTENSION } from './extension.js';
import { messageSigningPayload, signMessage, verifyMessageSignature } from './message-signature.js';

const sender = keySigner(generateEd25519().privateKey);
const agentDid = didKeyFromPublicKey(keySigner(generateEd25519().privateKey).publicKey);

function message(text = 'hello'): Message {
  return {
    messageId: 'm-1',
    contextId: '',
    taskId: '',
    role: Role.ROLE_USER,
    parts: [{ content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: '' }],
    metadata: { trace: 'abc' },
    extensions: [],
    referenceTaskIds: [],
  };
}

function signatureOf(signed: Message) {
  return MessageExtensionSchema.parse(signed.metadata?.[OACP_A2A_EXTENSION]).signature;
}

describe('signed messages (signature in message metadata over the JCS ProtoJSON form)', () => {
  it('verifies after a round trip through the wire form, and only once', async () => {
    const signed = signMessage(message(), sender, { to: agentDid });
    const received = Message.fromJSON(JSON.parse(JSON.stringify(Message.toJSON(signed))));
    const nonces = new InMemoryNonceStore();
    const first = await verifyMessageSignature(received, signatureOf(received), { agentDid, nonces });
    expect(first).toMatchObject({ ok: true, signer: didKeyFromPublicKey(sender.publicKey) });
    expect(await verifyMessageSignature(received, signatureOf(received), { agentDid, nonces })).toEqual({
      ok: false,
      reason: 'replayed nonce',
    });
  });

  it('covers the parts, the other metadata and the encryption request', async () => {
    const signed = signMessage(message(), sender, { to: agentDid, encryptTo: agentDid });
    const signature = signatureOf(signed);
    const verify = (m: Message) =>
      verifyMessageSignature(m, signature, { agentDid, nonces: new InMemoryNonceStore() });
    expect((await verify(signed)).ok).toBe(true);
    expect((await verify({ ...signed, parts: message('transfer everything').parts })).reason).toBe(
      'payload digest mismatch',
    );
    expect((await verify({ ...signed, metadata: { ...signed.metadata, trace: 'xyz' } })).reason).toBe(
      'payload digest mismatch',
    );
    const withoutEncryption = {
      ...signed,
      metadata: { ...signed.metadata, [OACP_A2A_EXTENSION]: { signature } },
    };
    expect((await verify(withoutEncryption)).reason).toBe('payload digest mismatch');
  });

  it('is bound to the receiving agent', async () => {
    const signed = signMessage(message(), sender, { to: agentDid });
    const other = didKeyFromPublicKey(keySigner(generateEd25519().privateKey).publicKey);
    const verdict = await verifyMessageSignature(signed, signatureOf(signed), {
      agentDid: other,
      nonces: new InMemoryNonceStore(),
    });
    expect(verdict).toMatchObject({ ok: false, reason: expect.stringMatching(/purpose mismatch/) });
  });

  it('refuses a stale signature', async () => {
    const signed = signMessage(message(), sender, { to: agentDid, now: () => Date.now() - 3_600_000 });
    const verdict = await verifyMessageSignature(signed, signatureOf(signed), {
      agentDid,
      nonces: new InMemoryNonceStore(),
    });
    expect(verdict).toMatchObject({ ok: false, reason: expect.stringMatching(/outside the allowed window/) });
  });

  it('leaves the signature out of the signed bytes, and nothing else', async () => {
    const signed = signMessage(message(), sender, { to: agentDid });
    const payload = JSON.parse(messageSigningPayload(signed)) as Record<string, unknown>;
    expect(payload).toMatchObject({ messageId: 'm-1', role: 'ROLE_USER', metadata: { trace: 'abc' } });
    expect(JSON.stringify(payload)).not.toContain('signature');
  });
});
