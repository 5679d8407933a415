import {
  type Envelope,
  EnvelopeSchema,
  envelopePayload,
  signaturesBy,
  signEnvelope,
} from '../attest/dsse.js';
import { duplicateJsonKey, duplicateKeyReason } from '../core/duplicate-key.js';
import type { Signer } from '../core/ed25519.js';
import { OacpError } from '../core/errors.js';
import { canonicalize } from '../core/jcs.js';
import type { CapabilityErrorCode } from './errors.js';
import type { Manifest } from './manifest.js';
import { parseManifest } from './parse.js';

export const MANIFEST_PAYLOAD_TYPE = 'application/vnd.oacp.manifest+json';

/** The payload is the manifest's RFC 8785 form, so the same manifest always signs the same bytes. */
export function signManifest(manifest: Manifest, signers: readonly Signer[]): Envelope {
  return signEnvelope(MANIFEST_PAYLOAD_TYPE, Buffer.from(canonicalize(manifest), 'utf8'), signers);
}

function refuse(reason: string): OacpError<CapabilityErrorCode> {
  return new OacpError('CAPABILITY_MANIFEST_SIGNATURE', `signed manifest refused: ${reason}`);
}

/**
 * Returns the manifest inside `envelope` when at least one signature verifies
 * under one of `trustedKeys` (raw 32-byte Ed25519). Otherwise throws, saying
 * which step failed: envelope shape, payload type, signature, manifest content.
 */
export function verifySignedManifest(envelope: unknown, trustedKeys: readonly Uint8Array[]): Manifest {
  const shape = EnvelopeSchema.safeParse(envelope);
  if (!shape.success) throw refuse('not a DSSE envelope');
  const parsed = shape.data;
  if (parsed.payloadType !== MANIFEST_PAYLOAD_TYPE) {
    throw refuse(`payload type is "${parsed.payloadType}", expected "${MANIFEST_PAYLOAD_TYPE}"`);
  }
  if (trustedKeys.length === 0) throw refuse('no trusted manifest signing keys are configured');
  if (parsed.signatures.length === 0) throw refuse('the envelope carries no signatures');
  const trusted = trustedKeys.some((key) => signaturesBy(parsed, key).length > 0);
  if (!trusted) {
    throw refuse('no signature verifies under a trusted key (tampered payload or unknown signer)');
  }
  let text: string;
  let document: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(envelopePayload(parsed));
    document = JSON.parse(text);
  } catch {
    throw refuse('the signed payload is not UTF-8 JSON');
  }
  const repeated = duplicateJsonKey(text);
  if (repeated !== undefined) throw refuse(duplicateKeyReason('the signed payload', repeated));
  return parseManifest(document, '(signed payload)');
}

/** Whether a parsed document looks like a DSSE envelope rather than a bare manifest. */
export function looksLikeEnvelope(document: unknown): boolean {
  return (
    typeof document === 'object' &&
    document !== null &&
    'payloadType' in document &&
    'payload' in document &&
    'signatures' in document
  );
}
