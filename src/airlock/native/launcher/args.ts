/** Where the launcher and the workload filter appear inside a confined sandbox. */
export const SANDBOX_LAUNCHER = '/run/oacp/launch';
export const SANDBOX_WORKLOAD_FILTER = '/run/oacp/workload.bpf';

/**
 * Runs first, outside the sandbox: closes every descriptor the OACP process
 * inherited except `keep` (the seccomp pipe, the grant descriptors), and in
 * the gVisor tier stages each grant descriptor on a host path in a private
 * mount namespace for runsc to bind.
 */
export function outerLaunchArgs(
  launcher: string,
  options: { readonly keep?: readonly number[]; readonly stage?: readonly { fd: number; path: string }[] },
): string[] {
  return [
    launcher,
    ...(options.keep ?? []).flatMap((fd) => ['--keep', String(fd)]),
    ...(options.stage ?? []).flatMap((each) => ['--stage', `${each.fd}:${each.path}`]),
    '--',
  ];
}

/** Runs last, inside the sandbox, right before the workload: closes descriptors above 2, installs the workload filter. */
export function innerLaunchArgs(): string[] {
  return [SANDBOX_LAUNCHER, '--filter', SANDBOX_WORKLOAD_FILTER, '--'];
}
