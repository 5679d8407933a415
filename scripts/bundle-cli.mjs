// Bundles the compiled CLI (dist/cli/main.js) into dist/cli/bundle/, one
// chunk per lazily loaded command, and `oacp mcp` as one CommonJS file
// with V8's code cache (below); dist/cli/main.js becomes the entry that
// picks one (src/cli/start.ts). Node 20 resolves, reads and links every ESM module file
// separately (about 260 files before `oacp mcp run` can start its server:
// OACP's own, zod's 99, commander's); one bundle cuts that work, measured in
// docs/mcp-packages.md ("Start time").
//
// The bundle sits three directories below the package root, like the
// compiled modules that find files relative to themselves (`catalog/`, the
// console, `../main.js`), so those paths hold unchanged. Packages with native
// code, WebAssembly or data files stay outside the bundle (below). The guest worker of the standard tier is a second
// entry point, found beside the chunk that starts it.
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

// zod and commander (zod is the largest module a start loads: ~23 ms of CPU to compile and run
// as an ES module) are bundled on their own as CommonJS and run through `vm.Script` with V8's
// code cache, made here from a run of each: zod ~12 ms. Node 20 has no code cache for ES modules
// (`module.enableCompileCache` is Node 22). A cache sits beside its code, as trusted as it, and
// is made here only (V8 rejects one made by another V8 or with other flags, and then compiles
// as before).
const CACHED = [
  {
    name: 'zod',
    exports: ['z'],
    plugins: [englishOnlyZodLocales],
    // What building and using a schema compiles.
    exercise: ({ z }) =>
      z
        .strictObject({ a: z.string().min(1), b: z.number().int().optional(), c: z.enum(['x', 'y']).default('x') })
        .safeParse({ a: 'x', b: 1.5 }),
  },
  {
    name: 'commander',
    exports: ['Command', 'CommanderError'],
    plugins: [],
    // What building a program and parsing a subcommand's options compiles.
    exercise: ({ Command }) => {
      const program = new Command('oacp').exitOverride().configureOutput({ writeOut() {}, writeErr() {} });
      program.option('--home <dir>');
      program.command('run').argument('[command...]').option('--tier <tier>').option('--allow <x>', 'x', (v, all) => [...all, v], []).action(() => undefined);
      program.parse(['--home', '/h', 'run', '--tier', 'light', '--allow', 'a', '--', 'node'], { from: 'user' });
    },
  },
];
const WRAP = ['(function (exports, require, module) {', '\n})'];
const cachedModule = (name, exports) => `// ${name} through V8's code cache (scripts/bundle-cli.mjs).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
const file = fileURLToPath(new URL('./${name}.cjs', import.meta.url));
let cachedData;
try {
  cachedData = readFileSync(fileURLToPath(new URL('./${name}.cache', import.meta.url)));
} catch {
  cachedData = undefined;
}
const script = new Script(${JSON.stringify(WRAP[0])} + readFileSync(file, 'utf8') + ${JSON.stringify(WRAP[1])}, { filename: file, cachedData });
const loaded = { exports: {} };
script.runInThisContext()(loaded.exports, createRequire(file), loaded);
${exports.map((name) => `export const ${name} = loaded.exports.${name};`).join('\n')}
/** Whether this start used the code cache ('used') or compiled the code ('compiled': none, or rejected by V8). */
export const codeCache = cachedData !== undefined && !script.cachedDataRejected ? 'used' : 'compiled';
`;
const throughCodeCache = {
  name: 'through-code-cache',
  setup(bundle) {
    const names = new Set(CACHED.map(({ name }) => name));
    bundle.onResolve({ filter: /^[a-z]+$/ }, (args) =>
      names.has(args.path) ? { path: `./${args.path}.js`, external: true } : undefined,
    );
  },
};

const ENTRY_MARK = '// The built entry (scripts/bundle-cli.mjs).';
if (readFileSync('dist/cli/main.js', 'utf8').includes(ENTRY_MARK)) {
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
  plugins: [englishOnlyZodLocales, throughCodeCache],
  // Bundled CommonJS packages (commander) call require() for Node's own modules, through esbuild's
  // __require in one chunk; the banner goes on every chunk, so it makes the real require only at a first call.
  banner: {
    js: "import { createRequire as oacpCreateRequire } from 'node:module'; let oacpRequire; function require(id) { oacpRequire ??= oacpCreateRequire(import.meta.url); return oacpRequire(id); }",
  },
});

for (const { name, exports, plugins, exercise } of CACHED) {
  const file = resolve(`dist/cli/bundle/${name}.cjs`);
  await build({
    stdin: { contents: `export { ${exports.join(', ')} } from '${name}';`, resolveDir: process.cwd() },
    outfile: file,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    plugins,
  });
  writeFileSync(`dist/cli/bundle/${name}.js`, cachedModule(name, exports));
  // The cache holds what a run compiled: the module's body and what `exercise` ran.
  const script = new Script(WRAP[0] + readFileSync(file, 'utf8') + WRAP[1], { filename: file });
  const loaded = { exports: {} };
  script.runInThisContext()(loaded.exports, createRequire(file), loaded);
  exercise(loaded.exports);
  writeFileSync(`dist/cli/bundle/${name}.cache`, script.createCachedData());
}

// Which compiled modules each output file holds, so a test can still tell
// which of OACP's modules a command loads (test/cli/startup.test.ts).
const inputs = Object.fromEntries(
  Object.entries(result.metafile.outputs).map(([file, output]) => [file, Object.keys(output.inputs)]),
);

// `oacp mcp …` (what an MCP client starts for every session) as one CommonJS file, zod and commander
// in it, run through V8's code cache (src/cli/code-cache.ts): its ~60 ES modules cost ~25 ms of
// compiling and ~10 ms of resolving and linking before the server could start (bench/results.md,
// round 21). import() of a bundled module becomes a call; of a package, a require() (every package
// this command loads has a CommonJS build). `import.meta.url` is the bundle's own URL: it sits
// beside the chunks, so paths found from it hold.
const mcpFile = resolve('dist/cli/bundle/mcp.cjs');
const mcpResult = await build({
  entryPoints: ['dist/cli/mcp-main.js'],
  outfile: mcpFile,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external,
  supported: { 'dynamic-import': false },
  define: { 'import.meta.url': 'oacpModuleUrl' },
  logLevel: 'warning',
  metafile: true,
  plugins: [englishOnlyZodLocales],
});
const mcpCode = readFileSync(mcpFile);
const contentHash = createHash('sha256').update(mcpCode).digest('hex').slice(0, 16);
const { codeCacheName, runThroughCodeCache } = await import(resolve('dist/cli/code-cache.js'));
// The cache holds what a start compiles before it can spawn a server: the command's modules, and
// `mcp run` up to a refused tier (options, home, the run modules), nothing started.
const exercise = runThroughCodeCache(mcpFile);
const scratch = mkdtempSync(join(tmpdir(), 'oacp-bundle-'));
try {
  const silent = { out() {}, err() {} };
  await exercise.exports.runMcpCli(['--home', scratch, 'mcp', 'run', '--tier', 'nope', '--', 'true'], silent, {});
  await exercise.exports.runMcpCli(['--home', scratch, 'mcp', 'run', '--help'], silent, {});
} finally {
  process.exitCode = undefined;
  rmSync(scratch, { recursive: true, force: true });
}
const mcpCache = `dist/cli/bundle/${codeCacheName('mcp', contentHash)}`;
writeFileSync(mcpCache, exercise.createCache());
// Only as writable as the code: a cache writable by group or others is not used (src/cli/code-cache.ts).
chmodSync(mcpCache, 0o644);
inputs['dist/cli/bundle/mcp.cjs'] = Object.keys(Object.values(mcpResult.metafile.outputs)[0].inputs);

writeFileSync('dist/cli/bundle/inputs.json', `${JSON.stringify(inputs, null, 1)}\n`);
writeFileSync(
  'dist/cli/main.js',
  `#!/usr/bin/env node
${ENTRY_MARK}
import { fileURLToPath } from 'node:url';
import { startCli } from './start.js';
await startCli(
  process.argv.slice(2),
  { dir: fileURLToPath(new URL('./bundle/', import.meta.url)), contentHash: ${JSON.stringify(contentHash)} },
  () => import('./bundle/main.js'),
);
`,
);
// Node looks for the package.json above every module it loads (for its "type"), one directory at a
// time: found beside the chunks, the search for each of the ~50 a start loads ends at once.
writeFileSync('dist/cli/bundle/package.json', '{ "type": "module" }\n');
