// Bundles the sandbox's Node preload (src/airlock/native/fetch-proxy-preload.cjs) into two
// self-contained files in dist/airlock/native/: the preload itself, small, loaded at every Node
// start, and fetch-proxy-undici.cjs, the parts of undici its fetch() route uses, which the preload
// requires from beside itself at the first fetch. The confined tiers bind both read-only into a
// sandbox with the egress proxy (docs/egress.md), where none of OACP's node_modules is visible.
import { build } from 'esbuild';

const common = {
  bundle: true,
  minify: true,
  format: 'cjs',
  platform: 'node',
  target: 'node18',
  legalComments: 'inline',
  logLevel: 'warning',
};

await build({
  ...common,
  entryPoints: ['src/airlock/native/fetch-proxy-preload.cjs'],
  outfile: 'dist/airlock/native/fetch-proxy-preload.cjs',
  external: ['./fetch-proxy-undici.cjs'],
});
await build({
  ...common,
  entryPoints: ['src/airlock/native/fetch-proxy-undici.cjs'],
  outfile: 'dist/airlock/native/fetch-proxy-undici.cjs',
});
