import { spawn } from 'node:child_process';

/** Flags every OACP runsc invocation carries. */
export interface RunscOptions {
  readonly runsc: string;
  /** Container state directory, private to one sandbox. */
  readonly stateRoot: string;
  /** Lets the sandbox connect to the bound egress proxy socket. */
  readonly hostUds: boolean;
  /** Needed when OACP does not run as root. */
  readonly rootless: boolean;
}

/**
 * ptrace works on every host (no /dev/kvm needed); `--network=none` leaves
 * only loopback; cgroups are left alone because OACP enforces its quotas
 * from outside and must not touch a host hierarchy it was not delegated.
 */
export function runscGlobalArgs(options: RunscOptions): string[] {
  return [
    `--root=${options.stateRoot}`,
    '--platform=ptrace',
    '--network=none',
    '--ignore-cgroups',
    `--host-uds=${options.hostUds ? 'open' : 'none'}`,
    ...(options.rootless ? ['--rootless'] : []),
  ];
}

export function runscRunArgs(options: RunscOptions, bundle: string, id: string): string[] {
  return [...runscGlobalArgs(options), 'run', `--bundle=${bundle}`, id];
}

/** Removes container state even if the sandbox is still (partly) running; never throws. */
export function runscDelete(options: RunscOptions, id: string): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(options.runsc, [...runscGlobalArgs(options), 'delete', '-force', id], {
      stdio: 'ignore',
      timeout: 10_000,
    });
    child.once('error', () => resolve());
    child.once('close', () => resolve());
  });
}
