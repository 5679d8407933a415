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
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { Script } from 'node:vm';
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

// zod (the largest module a start loads: ~23 ms of CPU to compile and run as an ES module) is
// bundled on its own as CommonJS and run through `vm.Script` with V8's code cache, made here
// from a run of it: ~11 ms. Node 20 has no code cache for ES modules (`module.enableCompileCache`
// is Node 22). The cache sits beside the code, as trusted as it (V8 rejects one made by
// another V8 or with other flags, and then compiles as before).
const ZOD_WRAP = ['(function (exports, require, module) {', '\n})'];
const zodModule = (wrap) => `// zod through V8's code cache (scripts/bundle-cli.mjs).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
const file = fileURLToPath(new URL('./zod.cjs', import.meta.url));
let cachedData;
try {
  cachedData = readFileSync(fileURLToPath(new URL('./zod.cache', import.meta.url)));
} catch {
  cachedData = undefined;
}
const script = new Script(${JSON.stringify(wrap[0])} + readFileSync(file, 'utf8') + ${JSON.stringify(wrap[1])}, { filename: file, cachedData });
const loaded = { exports: {} };
script.runInThisContext()(loaded.exports, createRequire(file), loaded);
export const z = loaded.exports.z;
/** Whether this start used the code cache ('used') or compiled zod ('compiled': none, or rejected by V8). */
export const codeCache = cachedData !== undefined && !script.cachedDataRejected ? 'used' : 'compiled';
`;
const zodThroughCache = {
  name: 'zod-through-code-cache',
  setup(bundle) {
    bundle.onResolve({ filter: /^zod$/ }, () => ({ path: './zod.js', external: true }));
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
  plugins: [englishOnlyZodLocales, zodThroughCache],
  // Bundled CommonJS packages (commander) call require() for Node's own modules, through esbuild's
  // __require in one chunk; the banner goes on every chunk, so it makes the real require only at a first call.
  banner: {
    js: "import { createRequire as oacpCreateRequire } from 'node:module'; let oacpRequire; function require(id) { oacpRequire ??= oacpCreateRequire(import.meta.url); return oacpRequire(id); }",
  },
});

await build({
  stdin: { contents: "export { z } from 'zod';", resolveDir: process.cwd() },
  outfile: 'dist/cli/bundle/zod.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  plugins: [englishOnlyZodLocales],
});
writeFileSync('dist/cli/bundle/zod.js', zodModule(ZOD_WRAP));
{
  // The cache holds what a run compiled: zod's module body and what building and using a schema runs.
  const source = readFileSync('dist/cli/bundle/zod.cjs', 'utf8');
  const script = new Script(ZOD_WRAP[0] + source + ZOD_WRAP[1], { filename: resolve('dist/cli/bundle/zod.cjs') });
  const loaded = { exports: {} };
  script.runInThisContext()(loaded.exports, createRequire(resolve('dist/cli/bundle/zod.cjs')), loaded);
  const { z } = loaded.exports;
  z.strictObject({ a: z.string().min(1), b: z.number().int().optional(), c: z.enum(['x', 'y']).default('x') })
    .safeParse({ a: 'x', b: 1.5 });
  writeFileSync('dist/cli/bundle/zod.cache', script.createCachedData());
}

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
