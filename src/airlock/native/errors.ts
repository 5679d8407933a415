/** Error codes raised by the native tiers (light, hardened, gvisor). */
export type NativeErrorCode =
  | 'AIRLOCK_SPAWN_FAILED'
  | 'AIRLOCK_TIER_UNAVAILABLE'
  | 'AIRLOCK_BAD_SPEC'
  | 'AIRLOCK_SECCOMP_UNSUPPORTED_ARCH';
