import { readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SYSTEM_HOME_REGISTRY } from '../src/identity/home-registry.js';

/**
 * Tests run `oacp init` on scratch homes under the temporary folder, and each init registers its
 * home in the host's and the invoking account's registry (docs/hardened-tier.md). Those entries
 * outlive the run while their homes stay on disk, and every later sandbox start on this machine
 * checks each one's markers. After a run, the entries this run made for homes under the temporary
 * folder are removed; entries made before it, or for homes elsewhere, are left alone.
 */
export default function setup(): () => void {
  const started = Date.now();
  return () => {
    for (const registry of [SYSTEM_HOME_REGISTRY, join(homedir(), '.config', 'oacp', 'homes.d')]) {
      removeScratchEntries(registry, started);
    }
  };
}

function removeScratchEntries(registry: string, since: number): void {
  let names: string[];
  try {
    names = readdirSync(registry);
  } catch {
    return;
  }
  const scratch = `${tmpdir()}/`;
  for (const name of names) {
    const entry = join(registry, name);
    try {
      if (statSync(entry).mtimeMs < since - 1_000) continue;
      const home = readFileSync(entry, 'utf8').trim();
      if (home.startsWith(scratch)) unlinkSync(entry);
    } catch {
      // Gone already, or not ours to read: left as it is.
    }
  }
}
