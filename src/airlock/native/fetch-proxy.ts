import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OacpError } from '../../core/errors.js';
import type { NativeErrorCode } from './errors.js';
import { SANDBOX_RUN_DIR } from './launcher/args.js';
import { trustedCacheDirectory } from './launcher/build.js';
import { cachedFile } from './launcher/cached-file.js';

/**
 * Where a sandbox with the egress proxy sees the preload that points Node's
 * built-in fetch at it (fetch-proxy-preload.cjs; docs/egress.md, "Node's fetch").
 */
export const SANDBOX_FETCH_PRELOAD = `${SANDBOX_RUN_DIR}/fetch-proxy.cjs`;

/** The bundle `npm run build` makes (scripts/bundle-fetch-proxy.mjs), found from dist/ or src/ alike. */
const BUILT_PRELOAD = new URL('../../../dist/airlock/native/fetch-proxy-preload.cjs', import.meta.url);

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
 * The host file bound read-only on SANDBOX_FETCH_PRELOAD: a copy in the
 * launcher cache (ours, closed to others, named by its digest, like the
 * workload filter), or, where that cache cannot be written, in the sandbox's
 * private directory. Never the installed file itself: bwrap and runsc, as the
 * sandbox user, may not reach it, and whoever can write the installation
 * would otherwise change what runs in every sandbox.
 */
export function fetchProxyPreload(privateDir: string): { source: string; target: string } {
  let content: Buffer;
  try {
    content = readFileSync(BUILT_PRELOAD);
  } catch (error) {
    throw new OacpError<NativeErrorCode>(
      'AIRLOCK_TIER_UNAVAILABLE',
      `the sandbox's fetch preload ${BUILT_PRELOAD.pathname} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): run \`npm run build\` in OACP's package`,
    );
  }
  const cache = trustedCacheDirectory();
  if (cache !== undefined) {
    try {
      return { source: cachedFile(cache, 'fetch-proxy.cjs', content), target: SANDBOX_FETCH_PRELOAD };
    } catch {
      // A read-only cache: this sandbox's own copy below.
    }
  }
  const source = join(privateDir, 'fetch-proxy.cjs');
  writeFileSync(source, content, { mode: 0o444, flag: 'wx' });
  return { source, target: SANDBOX_FETCH_PRELOAD };
}
