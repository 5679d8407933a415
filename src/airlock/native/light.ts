import { randomUUID } from 'node:crypto';
import type { Availability, ProcessSandbox, ProcessSpec, ProcessTier } from '../sandbox.js';
import { scrubEnvironment } from './env.js';
import { DEFAULT_POLL_MS, watchLimitsFromQuotas } from './limits.js';
import { guardOrphans } from './orphan-guard.js';
import { spawnWorkload } from './spawn.js';
import { supervise } from './supervisor.js';

export interface LightTierOptions {
  readonly pollMs?: number;
}

/**
 * Development-only tier: a plain child process. It scrubs the environment and
 * enforces output, memory and CPU quotas from outside, but the workload can
 * read and write whatever the host user can and reach any network. Never use
 * it for code you do not trust.
 */
export class LightTier implements ProcessTier {
  readonly name = 'light' as const;

  constructor(private readonly options: LightTierOptions = {}) {}

  async availability(): Promise<Availability> {
    return { available: true, detail: 'plain child process; no isolation (development only)' };
  }

  async start(spec: ProcessSpec): Promise<ProcessSandbox> {
    const child = await spawnWorkload({
      command: spec.command,
      args: spec.args,
      env: scrubEnvironment(spec.env, spec.manifest.capabilities.env),
      ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
    });
    return supervise({
      id: `light-${randomUUID()}`,
      tier: 'light',
      child,
      // Its whole process group dies with this process, kill -9 included.
      guard: guardOrphans(child.pid ?? -1),
      limits: watchLimitsFromQuotas(spec.manifest.quotas, this.options.pollMs ?? DEFAULT_POLL_MS),
    });
  }
}
