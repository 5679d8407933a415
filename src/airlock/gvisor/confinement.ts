import { dirname } from 'node:path';
import type { Quotas } from '../../capability/manifest.js';
import { resolveIdentity } from '../native/identity.js';
import {
  innerLaunchArgs,
  type OuterLaunch,
  outerLaunchArgs,
  SANDBOX_LAUNCHER,
  SANDBOX_WORKLOAD_FILTER,
} from '../native/launcher/args.js';
import { Launcher, type LauncherHold } from '../native/launcher/confinement.js';
import { stagingPoints } from '../native/launcher/staging.js';
import type { Mount } from '../native/mount-plan.js';
import type { PreparedSpec } from '../native/prepare.js';
import { buildCompatLibrary, SANDBOX_COMPAT_LIBRARY } from './compat-library.js';

/** First descriptor of the grants in the launcher's table (no seccomp pipe in this tier). */
const FIRST_GRANT_FD = 3;

/** How one gVisor sandbox is confined: its identity, what runsc binds, and the launcher around both ends. */
export interface GvisorConfined {
  readonly user: { readonly uid: number; readonly gid: number };
  /** Host owner for files the sandbox must reach (the egress socket); undefined: the invoker (rootless). */
  readonly hostOwner?: { readonly uid: number; readonly gid: number };
  /** Mounts whose sources are the staged descriptors, plus the launcher and the workload filter. */
  readonly mounts: readonly Mount[];
  /** Launcher command line that guards, joins the cgroups, stages the grants and then runs runsc. */
  outer(more: Pick<OuterLaunch, 'guard' | 'cgroups'>): string[];
  /** Launcher command line that runs right before the workload inside. */
  readonly inner: readonly string[];
}

/**
 * The same confinement as the hardened tier, for runsc: the workload runs as
 * the same identity (as root the dedicated WORKLOAD_ID, inside the sentry as
 * that non-root uid with no capabilities, so DAC matches the hardened tier),
 * every grant is the descriptor OACP opened (staged on a private mount point
 * the launcher verifies is that inode; a grant only its owner may use is
 * staged idmapped, so the gofer sees the owner's files as the workload's and
 * writes the workload's files as the owner), and the workload filter is
 * installed inside by the launcher.
 */
export class GvisorConfinement {
  private readonly launcher = new Launcher();

  /** The launcher for one start, held until the sandbox is gone (see Launcher.hold); prepare() needs it. */
  hold(): LauncherHold {
    return this.launcher.hold();
  }

  prepare(
    dir: string,
    prepared: PreparedSpec,
    host: { readonly workRoot: string; readonly quotas: Pick<Quotas, 'allow_unenforced'> },
  ): GvisorConfined {
    // Rootless runsc maps the invoker to uid 0 inside: the invoker, as in the hardened tier.
    const identity = resolveIdentity({
      mounts: prepared.mounts,
      executable: prepared.executable,
      idmap: (index) => {
        const handle = prepared.handles[index];
        return handle !== undefined && this.launcher.idmapGrant(handle, host.workRoot).ok;
      },
      quotas: host.quotas,
      // runsc's launcher stages every descriptor as root: only the objects themselves are checked.
      parents: false,
    });
    // Without an allowlist runsc runs with --host-uds=none: the sentry keeps every Unix socket inside.
    const confinement = this.launcher.prepare(dir, { unixSockets: !prepared.wantsEgress });
    const points = stagingPoints(dir, prepared.handles);
    const idmapped = new Map(identity.idmaps.map((each) => [each.index, each.owner]));
    const stage: { fd: number; path: string }[] = [];
    const idmap: { fd: number; uid: number; gid: number; path: string }[] = [];
    points.forEach((path, index) => {
      const owner = idmapped.get(index);
      const fd = FIRST_GRANT_FD + index;
      if (owner === undefined) stage.push({ fd, path });
      else idmap.push({ fd, uid: owner.uid, gid: owner.gid, path });
    });
    const user = identity.user;
    const mounts: Mount[] = prepared.mounts.map((mount, index) => ({
      ...mount,
      source: points[index] ?? mount.source,
    }));
    mounts.push(
      { source: confinement.program, target: SANDBOX_LAUNCHER, writable: false, implicit: true },
      { source: confinement.filter, target: SANDBOX_WORKLOAD_FILTER, writable: false, implicit: true },
    );
    mounts.push({
      source: buildCompatLibrary(dirname(confinement.program)),
      target: SANDBOX_COMPAT_LIBRARY,
      writable: false,
      implicit: true,
    });
    return {
      user: user ?? { uid: 0, gid: 0 },
      ...(user === undefined ? {} : { hostOwner: user }),
      mounts,
      outer: (more) =>
        outerLaunchArgs(confinement.program, {
          ...more,
          stage,
          ...(user === undefined || idmap.length === 0 ? {} : { as: user, idmap }),
        }),
      inner: innerLaunchArgs(),
    };
  }
}
