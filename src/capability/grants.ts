import { statSync } from 'node:fs';
import type { Manifest, Quotas } from './manifest.js';
import { parseManifest } from './parse.js';

/** What command-line flags grant on top of a manifest (`--allow-files`, `--allow-network`, `--allow-env`, `--allow-unix-sockets`, quotas). */
export interface FlagGrants {
  readonly files?: readonly { readonly path: string; readonly writable: boolean }[];
  readonly network?: readonly string[];
  readonly env?: readonly string[];
  readonly tools?: { readonly allow?: readonly string[]; readonly deny?: readonly string[] };
  readonly quotas?: Partial<Quotas>;
  /** `--allow-unix-sockets`: only ever turns `capabilities.unix_sockets` on. */
  readonly unixSockets?: boolean;
  /** `--no-node-preload`: only ever turns `capabilities.network.node_preload` off. */
  readonly nodePreload?: boolean;
}

/**
 * The manifest a run actually gets: `base` (a manifest file, or deny-everything)
 * widened by exactly what the flags name, then validated as a whole, so a bad
 * flag fails with the field it landed in. A writable path is also readable.
 */
export function manifestWithGrants(base: Manifest | undefined, grants: FlagGrants, name = 'cli'): Manifest {
  const start = base ?? parseManifest({ apiVersion: 'oacp.dev/v1', kind: 'CapabilityManifest', name });
  const caps = start.capabilities;
  const files = (grants.files ?? []).map((grant) => ({
    path: fileGlob(grant.path),
    writable: grant.writable,
  }));
  return parseManifest(
    {
      ...start,
      capabilities: {
        ...caps,
        file_read: unique([...caps.file_read, ...files.map((grant) => grant.path)]),
        file_write: unique([
          ...caps.file_write,
          ...files.filter((grant) => grant.writable).map((grant) => grant.path),
        ]),
        network: {
          ...caps.network,
          allowlist: unique([...caps.network.allowlist, ...(grants.network ?? [])]),
          ...(grants.nodePreload === false ? { node_preload: false } : {}),
        },
        env: unique([...caps.env, ...(grants.env ?? [])]),
        tools: {
          allow: unique([...caps.tools.allow, ...(grants.tools?.allow ?? [])]),
          deny: unique([...caps.tools.deny, ...(grants.tools?.deny ?? [])]),
        },
        ...(grants.unixSockets === true ? { unix_sockets: true } : {}),
      },
      quotas: { ...start.quotas, ...definedOnly(grants.quotas ?? {}) },
    },
    'from flags',
  );
}

/** `/data` (a directory) means the directory and everything in it; a file or a glob means itself. */
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

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
