/** Error codes of the cgroup backend and the enforcement plan. */
export type CgroupErrorCode =
  /** The kernel refused to create or configure a sandbox cgroup. */
  | 'AIRLOCK_CGROUP_FAILED'
  /** A quota has no kernel mechanism on this host and was not opted out of. */
  | 'AIRLOCK_LIMIT_UNENFORCED';
