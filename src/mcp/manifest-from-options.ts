import { manifestWithGrants } from '../capability/grants.js';
import { loadManifest } from '../capability/load.js';
import { type Manifest, ManifestSchema } from '../capability/manifest.js';
import type { McpRunOptions } from './options.js';

/**
 * A server runs as long as its client stays: the Airlock's lifetime output cap
 * (a per-run quota for one-shot workloads) would end it mid-session, so the
 * bridge's own default is effectively unlimited; single messages are still
 * capped by the line transport.
 */
export const BRIDGE_MAX_OUTPUT_BYTES = 2 ** 40;

/**
 * The manifest the server's sandbox gets: `--manifest` as written (or an empty
 * one, which grants nothing), plus what the flags add. Flags only widen
 * grants the user typed; nothing is granted implicitly here (the server's own
 * code is readable through implicitReadPaths instead).
 */
export function manifestFromOptions(options: McpRunOptions, name: string): Manifest {
  const base =
    options.manifest === undefined
      ? ManifestSchema.parse({
          apiVersion: 'oacp.dev/v1',
          kind: 'CapabilityManifest',
          name,
          quotas: { max_output_bytes: BRIDGE_MAX_OUTPUT_BYTES },
        })
      : loadManifest(options.manifest);
  return manifestWithGrants(base, {
    files: options.allowFiles,
    network: options.allowNetwork,
    env: options.allowEnv,
    unixSockets: options.allowUnixSockets,
    nodePreload: options.nodePreload,
    quotas: {
      ...(options.quotaMemory === undefined ? {} : { memory_mb: options.quotaMemory }),
      ...(options.quotaTmp === undefined ? {} : { tmp_mb: options.quotaTmp }),
      ...(options.quotaCpu === undefined ? {} : { cpu_ms_per_request: options.quotaCpu }),
      ...(options.quotaStartupCpu === undefined ? {} : { startup_cpu_ms: options.quotaStartupCpu }),
      ...(options.allowUnenforced.length === 0
        ? {}
        : { allow_unenforced: [...new Set([...base.quotas.allow_unenforced, ...options.allowUnenforced])] }),
    },
  });
}
