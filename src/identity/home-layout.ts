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

export function homeLayout(home: string): HomeLayout {
  const keysDir = join(home, 'keys');
  const agentsDir = join(home, 'agents');
  return {
    home,
    masterKey: join(home, 'master.key'),
    keysDir,
    airlockKey: join(keysDir, 'airlock.json'),
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
