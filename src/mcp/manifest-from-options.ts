import { statSync } from 'node:fs';
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
  const reads = options.allowFiles.map((grant) => fileGlob(grant.path));
  const writes = options.allowFiles.filter((grant) => grant.writable).map((grant) => fileGlob(grant.path));
  const capabilities = base.capabilities;
  return ManifestSchema.parse({
    ...base,
    capabilities: {
      ...capabilities,
      file_read: unique([...capabilities.file_read, ...reads]),
      file_write: unique([...capabilities.file_write, ...writes]),
      network: {
        ...capabilities.network,
        allowlist: unique([...capabilities.network.allowlist, ...options.allowNetwork]),
      },
      env: unique([...capabilities.env, ...options.allowEnv]),
    },
    quotas: {
      ...base.quotas,
      ...(options.quotaMemory === undefined ? {} : { memory_mb: options.quotaMemory }),
      ...(options.quotaCpu === undefined ? {} : { cpu_ms_per_request: options.quotaCpu }),
    },
  });
}

/** `--allow-files /data` means the directory and everything in it; a file or a glob means itself. */
function fileGlob(path: string): string {
  if (path.includes('*')) return path;
  const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
  try {
    if (statSync(trimmed).isDirectory()) return trimmed === '/' ? '/**' : `${trimmed}/**`;
  } catch {
    // A path that does not exist yet is granted as written.
  }
  return trimmed;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
