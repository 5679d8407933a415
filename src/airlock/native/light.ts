import { randomUUID } from 'node:crypto';
import type { Availability, ProcessSandbox, ProcessSpec, ProcessTier } from '../sandbox.js';
import { probe } from './availability-probe.js';
import { scrubEnvironment } from './env.js';
import { resolveExecutable } from './executable.js';
import { outerLaunchArgs } from './launcher/args.js';
import { Launcher } from './launcher/confinement.js';
import { DEFAULT_POLL_MS, watchLimitsFromQuotas } from './limits.js';
import { deferLoaderVariables } from './loader-env.js';
import { guardPipe } from './orphan-guard.js';
import { guardFd, spawnWorkload } from './spawn.js';
import { supervise } from './supervisor.js';

export interface LightTierOptions {
  readonly pollMs?: number;
  /** Overrides the probe for the PID-namespace guard (tests of the fallback). */
  readonly pidNamespace?: boolean;
}

/** How a light workload is kept from outliving OACP, as found on this host. */
interface GuardMode {
  readonly pidNamespace: boolean;
  readonly detail: string;
}

const NAMESPACE_GUARD =
  'its guard is outside a new PID namespace (user namespace when not root) whose init the workload cannot signal';
const SUBREAPER_GUARD =
  'its guard is a child subreaper of the same uid: a workload that kills it leaves its setsid() children behind';

/**
 * Development-only tier: a plain child process. It scrubs the environment and
 * enforces output, memory and CPU quotas from outside, but the workload can
 * read and write whatever the host user can and reach any network. Never use
 * it for code you do not trust.
 */
export class LightTier implements ProcessTier {
  readonly name = 'light' as const;

  private readonly launcher = new Launcher();
  private guardMode: Promise<GuardMode> | undefined;

  constructor(private readonly options: LightTierOptions = {}) {}

  async availability(): Promise<Availability> {
    const mode = await this.mode();
    return {
      available: true,
      detail: `plain child process; no isolation (development only); ${mode.detail}`,
    };
  }

  /** Probed once per tier: the launcher's --init needs PID (and, unprivileged, user) namespaces. */
  private mode(): Promise<GuardMode> {
    this.guardMode ??= (async () => {
      if (this.options.pidNamespace === false) return { pidNamespace: false, detail: SUBREAPER_GUARD };
      const launcher = this.launcher.hold();
      const check = await probe(launcher.program, ['--init', '--', '/bin/true']).finally(launcher.release);
      if (check.ok) return { pidNamespace: true, detail: NAMESPACE_GUARD };
      return {
        pidNamespace: false,
        detail: `${SUBREAPER_GUARD} (no PID namespace here: ${check.output || 'refused'})`,
      };
    })();
    return this.guardMode;
  }

  async start(spec: ProcessSpec): Promise<ProcessSandbox> {
    const { pidNamespace } = await this.mode();
    // Looked up here (the sandbox PATH, as the launcher's execvp would) so a missing program fails start().
    const program = resolveExecutable(spec.command, spec.cwd).path;
    const launcher = this.launcher.hold();
    // The launcher's guard: descriptors above 2 closed, and no descendant (setsid or not) outlives OACP.
    const [command = spec.command, ...launch] = outerLaunchArgs(launcher.program, {
      guard: guardFd({}),
      init: pidNamespace,
      restoreEnv: true,
    });
    // Once spawned, the launcher runs from its exec'd image: its file is no longer needed.
    const child = await spawnWorkload({
      command,
      args: [...launch, program, ...spec.args],
      // The launcher's guard stays outside the PID namespace: LD_PRELOAD and the like reach only the workload.
      env: deferLoaderVariables(scrubEnvironment(spec.env, spec.manifest.capabilities.env)),
      ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
      guard: true,
    }).finally(launcher.release);
    return supervise({
      id: `light-${randomUUID()}`,
      tier: 'light',
      child,
      // Everything it started dies with this process, kill -9 included.
      guard: guardPipe(child, guardFd({})),
      // The guard (and the namespace's init) are processes of the tree beside the workload's.
      limits: watchLimitsFromQuotas(
        spec.manifest.quotas,
        this.options.pollMs ?? DEFAULT_POLL_MS,
        pidNamespace ? 2 : 1,
      ),
    });
  }
}
