// Bundles the sandbox's fetch preload (src/airlock/native/fetch-proxy-preload.cjs) with the parts
// of undici it uses into one self-contained file, dist/airlock/native/fetch-proxy-preload.cjs:
// the confined tiers bind it read-only into a sandbox with the egress proxy (docs/egress.md,
// "Node's fetch"), where none of OACP's node_modules is visible.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/airlock/native/fetch-proxy-preload.cjs'],
  outfile: 'dist/airlock/native/fetch-proxy-preload.cjs',
  bundle: true,
  minify: true,
  format: 'cjs',
  platform: 'node',
  target: 'node18',
  legalComments: 'inline',
  logLevel: 'warning',
});
