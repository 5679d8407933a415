// Public face of the native tiers (light, hardened) and their parts other tiers reuse.

export { type CgroupHost, detectCgroupHost } from '../cgroups/index.js';
export { SAFE_PATH, scrubEnvironment } from './env.js';
export type { NativeErrorCode } from './errors.js';
export { HardenedTier, type HardenedTierOptions, type NativeSandbox } from './hardened.js';
export { LightTier, type LightTierOptions } from './light.js';
export { encodeProgram } from './seccomp/bpf.js';
export { buildSeccompFilter } from './seccomp/filter.js';
export { DENIED_SYSCALLS } from './seccomp/policy.js';
