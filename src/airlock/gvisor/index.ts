// Public face of the gVisor tier.

export { type OciConfig, ociConfig } from './oci-config.js';
export { GvisorTier, type GvisorTierOptions } from './tier.js';
