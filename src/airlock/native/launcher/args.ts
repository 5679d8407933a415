/** Where the launcher and the workload filter appear inside a confined sandbox. */
export const SANDBOX_LAUNCHER = '/run/oacp/launch';
export const SANDBOX_WORKLOAD_FILTER = '/run/oacp/workload.bpf';

/** A grant descriptor the launcher replaces by an idmapped clone attached on `path` (files of uid:gid become `as`'s). */
export interface IdmapArg {
  readonly fd: number;
  readonly uid: number;
  readonly gid: number;
  readonly path: string;
}

export interface OuterLaunch {
  readonly keep?: readonly number[];
  readonly stage?: readonly { fd: number; path: string }[];
  /** The workload's host identity, which idmapped grants map their owner to. */
  readonly as?: { readonly uid: number; readonly gid: number };
  readonly idmap?: readonly IdmapArg[];
}

/**
 * Runs first, outside the sandbox: closes every descriptor the OACP process
 * inherited except `keep` (the seccomp pipe, the grant descriptors), in the
 * gVisor tier stages each grant descriptor on a host path in a private mount
 * namespace for runsc to bind, and replaces each `idmap` descriptor by an
 * idmapped clone of its mount (see docs/hardened-tier.md, "Identity").
 */
export function outerLaunchArgs(launcher: string, options: OuterLaunch): string[] {
  return [
    launcher,
    ...(options.keep ?? []).flatMap((fd) => ['--keep', String(fd)]),
    ...(options.as === undefined ? [] : ['--as', `${options.as.uid}:${options.as.gid}`]),
    ...(options.stage ?? []).flatMap((each) => ['--stage', `${each.fd}:${each.path}`]),
    ...(options.idmap ?? []).flatMap((each) => [
      '--idmap',
      `${each.fd}:${each.uid}:${each.gid}:${each.path}`,
    ]),
    '--',
  ];
}

/** Runs last, inside the sandbox, right before the workload: closes descriptors above 2, installs the workload filter. */
export function innerLaunchArgs(): string[] {
  return [SANDBOX_LAUNCHER, '--filter', SANDBOX_WORKLOAD_FILTER, '--'];
}
