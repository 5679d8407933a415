export type { CgroupErrorCode } from './errors.js';
export {
  type CgroupHost,
  type ControllerSupport,
  canEnableController,
  detectCgroupHost,
  RESOURCE_CONTROLLERS,
  type ResourceController,
} from './host.js';
export { type Cgroup2Mount, cgroup2MountOf, cgroup2Mounts } from './mountinfo.js';
export { FALLBACK, planResources, type ResourcePlan } from './plan.js';
export { type CgroupLimits, createSandboxCgroup, type SandboxCgroup } from './sandbox-cgroup.js';
export { prepareResources, type SandboxResources } from './sandbox-resources.js';
export { V1_TCP_LIMIT_FILE, v1ChargesSocketBuffers } from './socket-memory.js';
export {
  type DetectedCgroups,
  detectCgroupHostAndSweep,
  sandboxCgroupName,
  sweepStaleCgroups,
} from './stale.js';
