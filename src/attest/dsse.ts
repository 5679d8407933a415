import { z } from 'zod';
import type { Signer } from '../core/ed25519.js';
import { verifyEd25519 } from '../core/ed25519.js';
import { OacpError } from '../core/errors.js';

export type DsseErrorCode = 'DSSE_MALFORMED';

/**
 * One DSSE signature. `keyid` is OPTIONAL in the spec and only a hint: OACP
 * writes it (empty) but never reads it; a verifier tries each signature
 * against every key it trusts, so an envelope from a signer that leaves it out
 * verifies the same.
 */
export const SignatureSchema = z.object({ keyid: z.string().optional(), sig: z.string().min(1) }).loose();

/** DSSE v1 envelope (https://github.com/secure-systems-lab/dsse/blob/master/envelope.md). */
export const EnvelopeSchema = z.object({
  payload: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'payload must be standard base64'),
  payloadType: z.string().min(1),
  signatures: z.array(SignatureSchema),
});
export type Envelope = z.infer<typeof EnvelopeSchema>;

/**
 * Most signatures an envelope OACP reads may carry. A receipt has one or two (the Airlock, the
 * agent); every signature costs a verification per candidate key, so an envelope of 300,000 of them
 * held a verifier for minutes. Past this it is refused as malformed before any is checked.
 */
export const MAX_ENVELOPE_SIGNATURES = 64;

/** Pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in ASCII decimal bytes. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'utf8'),
    type,
    Buffer.from(` ${payload.length} `, 'utf8'),
    payload,
  ]);
}

/** Signs `payload` with every signer; OACP leaves `keyid` empty and identifies keys out of band. */
export function signEnvelope(payloadType: string, payload: Uint8Array, signers: readonly Signer[]): Envelope {
  const message = pae(payloadType, payload);
  return {
    payload: Buffer.from(payload).toString('base64'),
    payloadType,
    signatures: signers.map((signer) => ({
      keyid: '',
      sig: Buffer.from(signer.sign(message)).toString('base64'),
    })),
  };
}

/** Adds one more signature (a witness, say) over an existing envelope. */
export function addSignature(envelope: Envelope, signer: Signer): Envelope {
  const message = pae(envelope.payloadType, Buffer.from(envelope.payload, 'base64'));
  return {
    ...envelope,
    signatures: [
      ...envelope.signatures,
      { keyid: '', sig: Buffer.from(signer.sign(message)).toString('base64') },
    ],
  };
}

export function parseEnvelope(value: unknown): Envelope {
  const parsed = EnvelopeSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || 'envelope';
    throw new OacpError('DSSE_MALFORMED', `not a DSSE envelope: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

export function envelopePayload(envelope: Envelope): Buffer {
  return Buffer.from(envelope.payload, 'base64');
}

/** Indexes of the envelope's signatures that verify under `publicKey` (raw 32 bytes). */
export function signaturesBy(envelope: Envelope, publicKey: Uint8Array): number[] {
  const message = pae(envelope.payloadType, envelopePayload(envelope));
  const hits: number[] = [];
  envelope.signatures.forEach((entry, index) => {
    if (verifyEd25519(publicKey, message, Buffer.from(entry.sig, 'base64'))) hits.push(index);
  });
  return hits;
}
