/** Error codes raised by the native tiers (light, hardened, gvisor). */
export type NativeErrorCode =
  | 'AIRLOCK_SPAWN_FAILED'
  | 'AIRLOCK_TIER_UNAVAILABLE'
  | 'AIRLOCK_BAD_SPEC'
  /** A file or directory of the OACP home could not be stat'ed or listed: the start is refused. */
  | 'AIRLOCK_PROTECTED_UNCHECKED'
  /** A file of the OACP home has a second name (hard link) that a grant could bind. */
  | 'AIRLOCK_KEY_HARD_LINKED'
  | 'AIRLOCK_SECCOMP_UNSUPPORTED_ARCH';
