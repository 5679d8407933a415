// Public face of the capability domain: manifests, their matchers, signing and intersection.
export { specialDestinationReason } from './address-policy.js';
export { type Cidr, cidrContains, cidrCovers, parseCidr } from './cidr.js';
export type { CapabilityErrorCode } from './errors.js';
export { type FileAccess, FilePolicy } from './file-policy.js';
export { canonicalHost } from './host.js';
export {
  type Destination,
  type HostPattern,
  hostPatternCovers,
  hostPatternMatches,
  parseHostPattern,
} from './host-pattern.js';
export { intersectManifests } from './intersect.js';
export { type IpAddress, parseIp } from './ip.js';
export { acceptManifest, loadManifest, type ManifestTrust } from './load.js';
export {
  type Capabilities,
  CapabilitiesSchema,
  type Manifest,
  ManifestSchema,
  type NetworkGrant,
  type Quotas,
  QuotasSchema,
  type ToolsGrant,
} from './manifest.js';
export { namePatternCovers, namePatternMatches } from './name-pattern.js';
export { decideEnv, decideTool } from './name-policy.js';
export { NetworkPolicy } from './network-policy.js';
export { parseManifest } from './parse.js';
export { globCovers, globMatches, normalizePath, type PathGlob, parsePathGlob } from './path-glob.js';
export { MANIFEST_PAYLOAD_TYPE, signManifest, verifySignedManifest } from './signed.js';
