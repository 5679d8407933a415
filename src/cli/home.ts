import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** `--home` wins, then `$OACP_HOME`, then `~/.oacp`. */
export function resolveHome(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined && flag !== '') return resolve(flag);
  const fromEnv = env.OACP_HOME;
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  return join(homedir(), '.oacp');
}
