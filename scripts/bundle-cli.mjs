// Bundles the compiled CLI (dist/cli/main.js) into dist/cli/bundle/, one
// chunk per lazily loaded command, and makes dist/cli/main.js a one-line
// entry into it. Node 20 resolves, reads and links every ESM module file
// separately (about 260 files before `oacp mcp run` can start its server:
// OACP's own, zod's 99, commander's); one bundle cuts that work, measured in
// docs/mcp-packages.md ("Start time").
//
// The bundle sits three directories below the package root, like the
// compiled modules that find files relative to themselves (`catalog/`, the
// console, `../main.js`), so those paths hold unchanged. Packages with native
// code, WebAssembly or data files stay outside the bundle (below). The guest worker of the standard tier is a second
// entry point, found beside the chunk that starts it.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

// Only pure-JavaScript packages that read no files of their own are bundled
// (the ones `oacp mcp run` loads before its server starts); every other
// package (native code, WebAssembly, files found through __dirname) loads
// from node_modules as before.
const BUNDLED = new Set(['zod', 'commander']);
const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
const external = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies })
  .filter((name) => !BUNDLED.has(name))
  .flatMap((name) => [name, `${name}/*`]);

// zod's `z` namespace (and `z.core`) re-exports its 60-odd message locales (`z.locales`, ~340 kB of the
// 750 kB zod puts in the bundle), which every CLI start then compiled. OACP's messages are
// English only (zod's default, `en`, which zod itself imports directly), so `z.locales`
// holds `en` alone in the bundle: a third less code to compile before `oacp mcp run`
// can start its server (docs/mcp-packages.md, "Start time").
const englishOnlyZodLocales = {
  name: 'english-only-zod-locales',
  setup(bundle) {
    bundle.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]v4[\\/](classic|core)$/.test(args.resolveDir)
        ? { path: join(args.resolveDir, '..', 'locales', 'en-only.js'), namespace: 'zod-locales' }
        : undefined,
    );
    bundle.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), 'en.js'))};\n`,
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};

const ENTRY = "#!/usr/bin/env node\nimport './bundle/main.js';\n";
if (readFileSync('dist/cli/main.js', 'utf8') === ENTRY) {
  throw new Error('dist/cli/main.js is already the bundle entry: run `npm run build` (it compiles afresh)');
}

const result = await build({
  entryPoints: { main: 'dist/cli/main.js', 'guest-worker': 'dist/airlock/wasm/guest-worker.js' },
  outdir: 'dist/cli/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  logLevel: 'warning',
  metafile: true,
  plugins: [englishOnlyZodLocales],
  // Bundled CommonJS packages (commander) call require() for Node's own modules, through esbuild's
  // __require in one chunk; the banner goes on every chunk, so it makes the real require only at a first call.
  banner: {
    js: "import { createRequire as oacpCreateRequire } from 'node:module'; let oacpRequire; function require(id) { oacpRequire ??= oacpCreateRequire(import.meta.url); return oacpRequire(id); }",
  },
});

// Which compiled modules each output file holds, so a test can still tell
// which of OACP's modules a command loads (test/cli/startup.test.ts).
const inputs = Object.fromEntries(
  Object.entries(result.metafile.outputs).map(([file, output]) => [file, Object.keys(output.inputs)]),
);
writeFileSync('dist/cli/bundle/inputs.json', `${JSON.stringify(inputs, null, 1)}\n`);
writeFileSync('dist/cli/main.js', ENTRY);
// Node looks for the package.json above every module it loads (for its "type"), one directory at a
// time: found beside the chunks, the search for each of the ~50 a start loads ends at once.
writeFileSync('dist/cli/bundle/package.json', '{ "type": "module" }\n');
