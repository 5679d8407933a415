import { type Manifest, ManifestSchema, UNENFORCED_NAMES } from '../../capability/manifest.js';
import { OacpError } from '../../core/errors.js';
import type { SandboxCgroup } from '../cgroups/index.js';
import type { NativeErrorCode } from '../native/errors.js';
import type { NativeSandbox } from '../native/hardened.js';
import type { ProcessSpec } from '../sandbox.js';

/** A started sandbox with the cgroup it is charged to. */
export interface Launched {
  readonly sandbox: NativeSandbox;
  readonly cgroup?: SandboxCgroup;
}

/** Room for the sentry while it is measured: far above what it uses (about 19 MiB here). */
export const PROBE_ALLOWANCE_BYTES = 256 * 1024 * 1024;

/** Generous: a sentry's first start took 30-50 s under emulation (the cgroup v2 test guest) and on loaded hosts. */
const PROBE_TIMEOUT_MS = 120_000;
const PROBES = 3;

const PROBE_MANIFEST: Manifest = ManifestSchema.parse({
  apiVersion: 'oacp.dev/v1',
  kind: 'CapabilityManifest',
  name: 'gvisor-footprint-probe',
  // The probe only measures; a controller missing here must not refuse it, and its CPU is bounded by
  // PROBE_TIMEOUT_MS, not by the start-up allowance: a cold sentry under emulation (the cgroup v2 test
  // guest) or on a loaded host used more than the default 10 s, was killed, and the tier was refused.
  quotas: {
    memory_mb: 16,
    startup_cpu_ms: PROBE_TIMEOUT_MS,
    cpu_ms_per_request: PROBE_TIMEOUT_MS,
    allow_unenforced: [...UNENFORCED_NAMES],
  },
});

/**
 * What the gVisor kernel itself (runsc, sentry, gofer, ptrace stubs, their
 * page tables) is charged in a sandbox's memory cgroup on this host, measured
 * rather than guessed: a shell that has printed a line and waits on stdin is
 * started in a cgroup, and everything charged that is not page cache is the
 * footprint (Go heaps, page tables, kernel stacks). Every page the workload
 * holds (anonymous, tmpfs, /dev/shm, memfd, SysV) lives in the sentry's
 * memory file, which the kernel counts as shmem (page cache it cannot drop),
 * and other file pages are reclaimed before the kernel kills; so `memory_mb`
 * plus this footprint bounds the workload at `memory_mb`.
 */
export async function measureFootprint(launch: (spec: ProcessSpec) => Promise<Launched>): Promise<number> {
  // Sandboxes differ by a MiB or two (Go heaps): the smallest of three keeps the workload within its
  // quota. Measured once per host (footprint-cache.ts), so one at a time: side by side they contend.
  const readings: number[] = [];
  for (let probe = 0; probe < PROBES; probe++) readings.push(await measureOnce(launch));
  return Math.min(...readings);
}

async function measureOnce(launch: (spec: ProcessSpec) => Promise<Launched>): Promise<number> {
  const { sandbox, cgroup } = await launch({
    command: '/bin/sh',
    args: ['-c', 'echo ready; read line'],
    env: {},
    manifest: PROBE_MANIFEST,
  });
  let stderr = '';
  sandbox.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  try {
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
      sandbox.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      void sandbox.exit.then(() => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    const charge = ready ? cgroup?.memoryCharge() : undefined;
    if (charge === undefined || charge.bytes <= charge.fileBytes)
      throw new OacpError<NativeErrorCode>(
        'AIRLOCK_TIER_UNAVAILABLE',
        `gvisor tier cannot measure the memory its own kernel uses here, so a memory limit would be a guess: ${
          ready
            ? 'the memory cgroup gave no charge'
            : `the probe sandbox did not start (${stderr.trim().slice(0, 300)})`
        }`,
      );
    return charge.bytes - charge.fileBytes;
  } finally {
    sandbox.stdin.end();
    await sandbox.exit;
  }
}
