import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildSync } from 'esbuild';

const REPO = join(import.meta.dirname, '..', '..');

/**
 * Bundles the append-child fixture into one plain .mjs file (once per test file), so each
 * writer process starts with bare `node` in a fraction of a second instead of booting a
 * TypeScript runner: the multi-process tests start tens of them. The file sits under
 * node_modules/.cache so `fs-ext` (a native module, left external) resolves from it.
 */
export function appendChildScript(): string {
  const dir = join(REPO, 'node_modules', '.cache', 'oacp-tests');
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, `append-child-${process.pid}.mjs`);
  buildSync({
    entryPoints: [join(import.meta.dirname, 'fixtures', 'append-child.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    external: ['fs-ext'],
    logLevel: 'error',
  });
  return outfile;
}
