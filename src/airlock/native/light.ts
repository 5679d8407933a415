import { randomUUID } from 'node:crypto';
import type { Availability, ProcessSandbox, ProcessSpec, ProcessTier } from '../sandbox.js';
import { scrubEnvironment } from './env.js';
import { resolveExecutable } from './executable.js';
import { outerLaunchArgs } from './launcher/args.js';
import { Launcher } from './launcher/confinement.js';
import { DEFAULT_POLL_MS, watchLimitsFromQuotas } from './limits.js';
import { guardPipe } from './orphan-guard.js';
import { guardFd, spawnWorkload } from './spawn.js';
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

  private readonly launcher = new Launcher();

  constructor(private readonly options: LightTierOptions = {}) {}

  async availability(): Promise<Availability> {
    return { available: true, detail: 'plain child process; no isolation (development only)' };
  }

  async start(spec: ProcessSpec): Promise<ProcessSandbox> {
    // The launcher's guard: descriptors above 2 closed, and no descendant (setsid or not) outlives OACP.
    const [command = spec.command, ...launch] = outerLaunchArgs(this.launcher.built(), {
      guard: guardFd({}),
    });
    // Looked up here (the sandbox PATH, as the launcher's execvp would) so a missing program fails start().
    const program = resolveExecutable(spec.command, spec.cwd).path;
    const child = await spawnWorkload({
      command,
      args: [...launch, program, ...spec.args],
      env: scrubEnvironment(spec.env, spec.manifest.capabilities.env),
      ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
      guard: true,
    });
    return supervise({
      id: `light-${randomUUID()}`,
      tier: 'light',
      child,
      // Everything it started dies with this process, kill -9 included.
      guard: guardPipe(child, guardFd({})),
      // The guard is one process of the tree beside the workload's.
      limits: watchLimitsFromQuotas(spec.manifest.quotas, this.options.pollMs ?? DEFAULT_POLL_MS, 1),
    });
  }
}
