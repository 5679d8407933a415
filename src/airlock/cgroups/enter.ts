/**
 * A `/bin/sh` prefix that writes its own pid into every `cgroup.procs`,
 * then execs the rest of the command line. The shell joins before the exec,
 * so the workload and everything it forks are inside from their first
 * instruction; a failed join exits 125 without running anything.
 */
export function cgroupEnterArgs(procsFiles: readonly string[]): string[] {
  if (procsFiles.length === 0) return [];
  return [
    '/bin/sh',
    '-c',
    'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"',
    'oacp-cgroup-enter',
    ...procsFiles,
    '--',
  ];
}
