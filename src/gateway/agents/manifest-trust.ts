import type { ManifestTrust } from '../../capability/load.js';
import type { Capabilities, Manifest, Quotas } from '../../capability/manifest.js';
import { OacpError } from '../../core/errors.js';
import { isDidKey, publicKeyFromDidKey } from '../../identity/did-key.js';
import type { AgentErrorCode } from './errors.js';

/**
 * The `gateway.require_signed_manifests` and `gateway.manifest_keys` settings
 * as the capability layer's ManifestTrust (keys as did:key or base64 raw).
 */
export function manifestTrustFrom(settings: {
  readonly require_signed_manifests: boolean;
  readonly manifest_keys: readonly string[];
}): ManifestTrust {
  const trustedKeys = settings.manifest_keys.map((text, index) => {
    if (isDidKey(text)) return publicKeyFromDidKey(text);
    const raw = Buffer.from(text, 'base64');
    if (/^[A-Za-z0-9+/]{43}=$/.test(text) && raw.length === 32) return new Uint8Array(raw);
    throw new OacpError<AgentErrorCode>(
      'AGENT_TRUST_INVALID',
      `manifest_keys[${index}] is neither a did:key nor a base64 Ed25519 public key`,
    );
  });
  return { requireSigned: settings.require_signed_manifests, trustedKeys };
}

/**
 * The gateway-wide ceiling (`sandbox.capabilities`, `quotas`) as a manifest
 * every top-level agent's request is intersected with.
 */
export function ceilingManifest(capabilities: Capabilities, quotas: Quotas): Manifest {
  return { apiVersion: 'oacp.dev/v1', kind: 'CapabilityManifest', name: 'gateway', capabilities, quotas };
}
