import { join } from 'node:path';

/** Where each identity file lives inside an OACP home; one place so docs and code agree. */
export interface HomeLayout {
  readonly home: string;
  readonly masterKey: string;
  readonly keysDir: string;
  readonly airlockKey: string;
  readonly logKey: string;
  readonly agentsDir: string;
  agentKey(name: string): string;
}

/**
 * The two files that make a directory an OACP home (isOacpHome), without the rest of the layout:
 * every sandbox start that binds a grant asks this of each registered home (hundreds on a host
 * that runs OACP's tests), twice.
 */
export function homeMarkers(home: string): Pick<HomeLayout, 'masterKey' | 'airlockKey'> {
  return { masterKey: join(home, 'master.key'), airlockKey: join(home, 'keys', 'airlock.json') };
}

export function homeLayout(home: string): HomeLayout {
  const keysDir = join(home, 'keys');
  const agentsDir = join(home, 'agents');
  const { masterKey, airlockKey } = homeMarkers(home);
  return {
    home,
    masterKey,
    keysDir,
    airlockKey,
    logKey: join(keysDir, 'log.json'),
    agentsDir,
    agentKey: (name) => join(agentsDir, `${name}.json`),
  };
}

/** The node's settings (log origin) that `oacp init` writes beside the keys; read by src/node. */
export const NODE_CONFIG_FILE = 'node.json';

/** Owner-only permissions for every secret file and directory in the home. */
export const SECRET_FILE_MODE = 0o600;
export const SECRET_DIR_MODE = 0o700;
