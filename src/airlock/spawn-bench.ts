import { spawn } from 'node:child_process';
import { type Manifest, ManifestSchema } from '../capability/manifest.js';
import type { ProcessTier } from './sandbox.js';

/**
 * Start-to-exit timings of `/usr/bin/true`, for the bench harness: bare
 * `child_process.spawn` as the baseline, then the same program in a tier.
 * The difference is the tier's start overhead (goals: hardened <= 5 ms over
 * bare at p50, gvisor <= 300 ms).
 */
const TRUE = '/usr/bin/true';

const MANIFEST = ManifestSchema.parse({
  apiVersion: 'oacp.dev/v1',
  kind: 'CapabilityManifest',
  name: 'bench',
});

/** Milliseconds from spawn to exit of a plain child. */
export function timeBareSpawn(): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(TRUE, [], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve(performance.now() - started));
  });
}

/** The same manifest with one read-only grant of `dir` (a start that binds a path checks it against every known OACP home). */
export function grantManifest(dir: string): Manifest {
  return ManifestSchema.parse({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'bench',
    capabilities: { file_read: [dir] },
  });
}

/** Milliseconds from `tier.start` to the sandbox's exit (cleanup included). */
export async function timeTierSpawn(tier: ProcessTier, manifest: Manifest = MANIFEST): Promise<number> {
  const started = performance.now();
  const sandbox = await tier.start({ command: TRUE, args: [], manifest });
  sandbox.stdout.resume();
  sandbox.stderr.resume();
  await sandbox.exit;
  return performance.now() - started;
}

/** `count` sequential samples of one timing function. */
export async function sampleSpawns(time: () => Promise<number>, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let index = 0; index < count; index++) samples.push(await time());
  return samples;
}
