import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OacpError } from '../../core/errors.js';
import type { NativeErrorCode } from './errors.js';
import { SANDBOX_RUN_DIR } from './launcher/args.js';
import { trustedCacheDirectory } from './launcher/build.js';
import { cachedFile } from './launcher/cached-file.js';

/**
 * Where a sandbox with the egress proxy sees the preload that points Node's
 * fetch and node:http(s) at it (fetch-proxy-preload.cjs; docs/egress.md,
 * "Node's fetch"), and beside it the undici part the preload loads at the
 * first fetch (fetch-proxy-undici.cjs).
 */
export const SANDBOX_FETCH_PRELOAD = `${SANDBOX_RUN_DIR}/fetch-proxy.cjs`;
const SANDBOX_FETCH_UNDICI = `${SANDBOX_RUN_DIR}/fetch-proxy-undici.cjs`;

/** The bundles `npm run build` makes (scripts/bundle-fetch-proxy.mjs), found from dist/ or src/ alike. */
const BUILT = new URL('../../../dist/airlock/native/', import.meta.url);
const BUILT_FILES = [
  { built: 'fetch-proxy-preload.cjs', name: 'fetch-proxy.cjs', target: SANDBOX_FETCH_PRELOAD },
  { built: 'fetch-proxy-undici.cjs', name: 'fetch-proxy-undici.cjs', target: SANDBOX_FETCH_UNDICI },
] as const;

/**
 * NODE_OPTIONS for the workload: the user's own (passed with `--allow-env`)
 * kept first, then the preload, so a `--require` of theirs that sets a
 * dispatcher runs before it and wins.
 */
export function nodeOptionsWithPreload(theirs: string | undefined): string {
  const ours = `--require ${SANDBOX_FETCH_PRELOAD}`;
  return theirs === undefined || theirs.trim() === '' ? ours : `${theirs} ${ours}`;
}

/**
 * The host files bound read-only on the preload's sandbox paths: copies in
 * the launcher cache (ours, closed to others, named by their digest, like the
 * workload filter), or, where that cache cannot be written, in the sandbox's
 * private directory. Never the installed files themselves: bwrap and runsc, as
 * the sandbox user, may not reach them, and whoever can write the installation
 * would otherwise change what runs in every sandbox.
 */
export function fetchProxyPreload(privateDir: string): { source: string; target: string }[] {
  const cache = trustedCacheDirectory();
  return BUILT_FILES.map(({ built, name, target }) => {
    const content = builtFile(new URL(built, BUILT));
    if (cache !== undefined) {
      try {
        return { source: cachedFile(cache, name, content), target };
      } catch {
        // A read-only cache: this sandbox's own copy below.
      }
    }
    const source = join(privateDir, name);
    writeFileSync(source, content, { mode: 0o444, flag: 'wx' });
    return { source, target };
  });
}

function builtFile(url: URL): Buffer {
  try {
    return readFileSync(url);
  } catch (error) {
    throw new OacpError<NativeErrorCode>(
      'AIRLOCK_TIER_UNAVAILABLE',
      `the sandbox's Node preload ${url.pathname} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): run \`npm run build\` in OACP's package`,
    );
  }
}
