import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  innerLaunchArgs,
  outerLaunchArgs,
  SANDBOX_LAUNCHER,
  SANDBOX_WORKLOAD_FILTER,
} from '../native/launcher/args.js';
import { Launcher } from '../native/launcher/confinement.js';
import type { Mount } from '../native/mount-plan.js';
import type { PreparedSpec } from '../native/prepare.js';
import { checkAccess, workloadIdentity } from '../native/sandbox-user.js';

/** First descriptor of the grants in the launcher's table (no seccomp pipe in this tier). */
const FIRST_GRANT_FD = 3;

/** How one gVisor sandbox is confined: its identity, what runsc binds, and the launcher around both ends. */
export interface GvisorConfined {
  readonly user: { readonly uid: number; readonly gid: number };
  /** Host owner for files the sandbox must reach (the egress socket); undefined: the invoker (rootless). */
  readonly hostOwner?: { readonly uid: number; readonly gid: number };
  /** Mounts whose sources are the staged descriptors, plus the launcher and the workload filter. */
  readonly mounts: readonly Mount[];
  /** Launcher command line that stages the grants and then runs runsc. */
  readonly outer: readonly string[];
  /** Launcher command line that runs right before the workload inside. */
  readonly inner: readonly string[];
}

/**
 * The same confinement as the hardened tier, for runsc: the workload runs as
 * the same identity (the grants' owner when OACP is root; inside the sentry
 * as that uid with no capabilities, so the gofer creates host files owned by
 * it and DAC matches the hardened tier), every grant is the descriptor OACP
 * opened (staged on a private mount point the launcher verifies is that
 * inode), and the workload filter is installed inside by the launcher.
 */
export class GvisorConfinement {
  private readonly launcher = new Launcher();

  prepare(dir: string, prepared: PreparedSpec): GvisorConfined {
    const root = process.getuid?.() === 0;
    // Rootless runsc maps the invoker to uid 0 inside: the invoker, as in the hardened tier.
    const identity = root ? workloadIdentity(undefined, prepared.mounts) : undefined;
    if (identity !== undefined) checkAccess(prepared.mounts, prepared.executable, identity, false);
    const confinement = this.launcher.prepare(dir);
    const staging = join(dir, 'grants');
    mkdirSync(staging);
    const stage = prepared.handles.map((handle, index) => {
      const path = join(staging, String(index));
      if (handle.directory) mkdirSync(path);
      else writeFileSync(path, '');
      return { fd: FIRST_GRANT_FD + index, path };
    });
    const mounts: Mount[] = prepared.mounts.map((mount, index) => ({
      ...mount,
      source: stage[index]?.path ?? mount.source,
    }));
    mounts.push(
      { source: confinement.program, target: SANDBOX_LAUNCHER, writable: false, implicit: true },
      { source: confinement.filter, target: SANDBOX_WORKLOAD_FILTER, writable: false, implicit: true },
    );
    return {
      user: identity ?? { uid: 0, gid: 0 },
      ...(identity === undefined ? {} : { hostOwner: identity }),
      mounts,
      outer: outerLaunchArgs(confinement.program, { stage }),
      inner: innerLaunchArgs(),
    };
  }
}
