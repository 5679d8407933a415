import { rmSync } from 'node:fs';
import { KeyStore } from '../../../src/identity/keystore.js';
import { writeNodeConfig } from '../../../src/node/node-config.js';
import { scratchDir } from '../../scratch-dirs.js';

/** A fresh OACP home (keys + node.json) in a temporary folder; the master key comes from the env. */
export async function freshHome(
  prefix = 'oacp-gw-',
): Promise<{ home: string; env: Record<string, string>; remove(): void }> {
  const home = scratchDir(prefix);
  const env = { OACP_MASTER_KEY: '11'.repeat(32) };
  await KeyStore.init(home, { env });
  writeNodeConfig(home, { version: 1, origin: 'oacp.test/gateway' });
  return { home, env, remove: () => rmSync(home, { recursive: true, force: true }) };
}
