/**
 * For an environment a test builds from nothing (a CLI run in-process or spawned, a node opened
 * with `{}`): the test file's own signed-state directory (log-state.setup.ts), so nothing run as
 * root falls back to the host's /var/lib/oacp/logs. Left out when `env` names where state goes.
 */
export function withLogState<T extends Record<string, string | undefined>>(env: T): T {
  if (env.OACP_LOG_STATE_DIR !== undefined || env.XDG_STATE_HOME !== undefined) return env;
  const dir = process.env.OACP_LOG_STATE_DIR;
  if (dir === undefined)
    throw new Error('OACP_LOG_STATE_DIR is unset: vitest runs test/log-state.setup.ts first');
  return { ...env, OACP_LOG_STATE_DIR: dir };
}
