import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { probe } from '../native/availability-probe.js';
import { systemRootEntries } from '../native/system-root.js';
import { writeBundle } from './bundle.js';
import { ociConfig } from './oci-config.js';
import { runscRunArgs } from './runsc.js';

/** Starts `/usr/bin/true` in a throwaway bundle: the only reliable answer to "does runsc work here?". */
export async function probeRunsc(
  runsc: string,
  workRoot: string,
  root: boolean,
): Promise<{ ok: boolean; output: string }> {
  const dir = mkdtempSync(join(workRoot, 'oacp-gvisor-probe-'));
  try {
    const system = systemRootEntries();
    const config = ociConfig({
      args: ['/usr/bin/true'],
      env: { PATH: '/usr/bin:/bin' },
      cwd: '/',
      system,
      etc: [],
      mounts: [],
      tmpBytes: 1024 * 1024,
      shmBytes: 1024 * 1024,
      rlimits: { nofile: 64, nproc: 16, fsizeBytes: 1024 * 1024 },
    });
    const bundle = join(dir, 'bundle');
    writeBundle(
      bundle,
      config,
      system.flatMap((entry) => (entry.kind === 'symlink' ? [entry] : [])),
    );
    mkdirSync(join(dir, 'state'));
    const options = { runsc, stateRoot: join(dir, 'state'), hostUds: false, rootless: !root };
    return await probe(
      runsc,
      runscRunArgs(options, bundle, `oacp-probe-${process.pid}-${Date.now()}`),
      20_000,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
