import { z } from 'zod';
import { CapabilitiesSchema } from '../../capability/manifest.js';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected a sha256 in hex');

/**
 * One catalogued server: which package and exact version, the digest of the
 * installed tree it was reviewed as, who publishes it, the capability
 * manifest that runs it (drafted by `oacp mcp package`, then reviewed), and
 * the definitions of its tools as they were pinned.
 */
export const CatalogEntrySchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/),
  description: z.string().min(1),
  package: z.string().min(1),
  version: z.string().min(1),
  /** The package store's tree digest of this version (docs/mcp-packages.md). */
  tree_digest: Sha256,
  /** Arguments the server needs after its command (a directory, a connection URL). */
  args: z.array(z.string()).default([]),
  trust: z.strictObject({
    publisher: z.string().min(1),
    note: z.string().min(1),
  }),
  capabilities: CapabilitiesSchema,
  /** Quotas the server was reviewed under (manifest quota fields). */
  quotas: z.record(z.string(), z.number()).default({}),
  tools: z.array(
    z.strictObject({ name: z.string().min(1), digest: Sha256, description: z.string().optional() }),
  ),
});

export type CatalogEntry = z.output<typeof CatalogEntrySchema>;

/**
 * What the entry's manifest grants, as `oacp mcp run` options (`--allow-files`, `--allow-network`,
 * `--allow-env`, `--tools`, `--allow-unix-sockets`, `--no-node-preload`).
 */
export function entryGrants(entry: CatalogEntry): {
  allowFiles: string[];
  allowNetwork: string[];
  allowEnv: string[];
  tools: string[];
  allowUnixSockets: boolean;
  /** False when the manifest opts out of the Node egress preload (docs/egress.md, "Opting out"). */
  nodePreload: boolean;
} {
  const caps = entry.capabilities;
  const writable = new Set(caps.file_write);
  return {
    allowFiles: [
      // Always an explicit mode: a read path that itself ends in ":rw" must fail, not grant writes.
      ...caps.file_read.filter((path) => !writable.has(path)).map((path) => `${path}:ro`),
      ...caps.file_write.map((path) => `${path}:rw`),
    ],
    allowNetwork: [...caps.network.allowlist],
    allowEnv: [...caps.env],
    tools: caps.tools.allow.length === 0 ? [] : [caps.tools.allow.join(',')],
    allowUnixSockets: caps.unix_sockets === true,
    nodePreload: caps.network.node_preload !== false,
  };
}

/** The flags of `oacp mcp run` that grant exactly what the entry's manifest grants. */
export function runFlags(entry: CatalogEntry): string[] {
  const grants = entryGrants(entry);
  return [
    ...grants.allowFiles.flatMap((path) => ['--allow-files', path]),
    ...grants.allowNetwork.flatMap((host) => ['--allow-network', host]),
    ...grants.allowEnv.flatMap((name) => ['--allow-env', name]),
    ...grants.tools.flatMap((list) => ['--tools', list]),
    ...(grants.allowUnixSockets ? ['--allow-unix-sockets'] : []),
    ...(grants.nodePreload ? [] : ['--no-node-preload']),
  ];
}
