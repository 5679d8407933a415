import { planResources, type ResourcePlan, type ResourcePlanInput } from './plan.js';
import { createSandboxCgroup, type SandboxCgroup } from './sandbox-cgroup.js';

/** The kernel side of one sandbox's quotas, ready to wrap its command line. */
export interface SandboxResources {
  readonly plan: ResourcePlan;
  /** Undefined when no controller is available here (and the user accepted the fallbacks). */
  readonly cgroup?: SandboxCgroup;
  /** Whether the memory limit is the kernel's (so polling RSS would only double-count). */
  readonly memoryByKernel: boolean;
  remove(): Promise<void>;
}

/**
 * Plans the limits (refusing what cannot be enforced and was not opted
 * out of) and creates the cgroup (the launcher joins its `procsFiles`). Tiers call this
 * before spawning and `remove()` after the workload has exited.
 */
export function prepareResources(input: ResourcePlanInput & { readonly id: string }): SandboxResources {
  const plan = planResources(input);
  const { limits } = plan;
  const any =
    limits.memoryBytes !== undefined ||
    limits.pids !== undefined ||
    limits.cpus !== undefined ||
    limits.io !== undefined;
  const cgroup = any ? createSandboxCgroup(input.host, input.id, limits) : undefined;
  return {
    plan,
    ...(cgroup === undefined ? {} : { cgroup }),
    memoryByKernel: limits.memoryBytes !== undefined,
    remove: async () => {
      await cgroup?.remove();
    },
  };
}
