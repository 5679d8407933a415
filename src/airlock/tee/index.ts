// Public face of the tee tier: detection only, starting refuses.
export { detectTee, type TeeEvidence, type TeeProbe } from './detect.js';
export { TeeTier } from './tier.js';
