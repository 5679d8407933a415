import { duplicateJsonKey, duplicateKeyReason } from '../core/duplicate-key.js';
import { OacpError } from '../core/errors.js';
import { inputFileFailure, readInputText } from '../core/input-file.js';
import { yaml } from '../core/yaml.js';
import type { CapabilityErrorCode } from './errors.js';
import type { Manifest } from './manifest.js';
import { parseManifest } from './parse.js';
import { looksLikeEnvelope, verifySignedManifest } from './signed.js';

export interface ManifestTrust {
  /** `require_signed_manifests`: refuse bare manifests; accept only envelopes signed by `trustedKeys`. */
  readonly requireSigned?: boolean;
  /** Raw 32-byte Ed25519 public keys whose manifest signatures are accepted. */
  readonly trustedKeys?: readonly Uint8Array[];
}

/**
 * Accepts a parsed document that is either a manifest or a DSSE envelope
 * around one. A signed envelope is always verified, even when signatures are
 * not required: a bad signature is never ignored.
 */
export function acceptManifest(document: unknown, trust: ManifestTrust = {}, source = 'manifest'): Manifest {
  if (looksLikeEnvelope(document)) return verifySignedManifest(document, trust.trustedKeys ?? []);
  if (trust.requireSigned === true) {
    throw new OacpError<CapabilityErrorCode>(
      'CAPABILITY_MANIFEST_UNSIGNED',
      `manifest ${source} refused: require_signed_manifests is on and it is not a signed DSSE envelope`,
    );
  }
  return parseManifest(document, source);
}

/** Reads a manifest (or signed envelope) from a YAML or JSON file. */
export function loadManifest(path: string, trust: ManifestTrust = {}): Manifest {
  let text: string;
  try {
    text = readInputText(path);
  } catch (error) {
    throw new OacpError<CapabilityErrorCode>(
      'CAPABILITY_MANIFEST_UNREADABLE',
      `cannot read manifest ${path}: ${inputFileFailure(error)}`,
    );
  }
  let document: unknown;
  try {
    document = path.endsWith('.json') ? JSON.parse(text) : yaml().parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : 'syntax error';
    throw new OacpError<CapabilityErrorCode>(
      'CAPABILITY_MANIFEST_UNREADABLE',
      `cannot parse manifest ${path}: ${reason}`,
    );
  }
  const repeated = path.endsWith('.json') ? duplicateJsonKey(text) : undefined;
  if (repeated !== undefined) {
    // YAML refuses a repeated key itself; JSON.parse would keep the last one silently.
    throw new OacpError<CapabilityErrorCode>(
      'CAPABILITY_MANIFEST_UNREADABLE',
      `cannot parse manifest ${path}: ${duplicateKeyReason('it', repeated)}`,
    );
  }
  return acceptManifest(document, trust, path);
}
