/**
 * Variables a program's dynamic loader and C library act on before its
 * `main` (glibc's list of variables it drops for set-id programs, and every
 * `LD_*`). The launcher and bwrap run on the host, as root or as the
 * operator, before the sandbox exists: `--allow-env LD_PRELOAD` pointing
 * into a writable grant loaded the workload's library there, outside every
 * namespace and filter. They travel renamed (`OACP_LOADER_ENV_<NAME>`, a
 * name no manifest can pass, since OACP_* never enters a sandbox) and the
 * launcher's last step (`--restore-env`) gives them their names back for
 * the workload's exec alone.
 */
export const LOADER_ENV_PREFIX = 'OACP_LOADER_ENV_';

const LOADER_VARIABLES =
  /^(?:LD_.*|GCONV_PATH|GETCONF_DIR|GLIBC_TUNABLES|HOSTALIASES|LOCALDOMAIN|LOCPATH|MALLOC_.*|NIS_PATH|NLSPATH|RESOLV_HOST_CONF|RES_OPTIONS|TZDIR)$/;

/** The environment with every loader variable renamed, for a launcher started with `--restore-env`. */
export function deferLoaderVariables(env: Readonly<Record<string, string>>): Record<string, string> {
  const deferred: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    deferred[LOADER_VARIABLES.test(name) ? `${LOADER_ENV_PREFIX}${name}` : name] = value;
  }
  return deferred;
}
