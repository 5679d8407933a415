import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { registrarsFor } from '../../src/cli/commands/table.js';
import { tempDir } from './harness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'dist', 'cli', 'main.js');

/**
 * The CLI runs from bundles (scripts/bundle-cli.mjs): a loaded ES module chunk stands for every
 * compiled module in it, as listed by the build; in the one-file CommonJS bundle of `oacp mcp`,
 * a compiled module is loaded when its init function ran (esbuild names it after the module).
 */
function modulesIn(url: string, functions: readonly CoveredFunction[]): string[] {
  const inputs = JSON.parse(
    readFileSync(join(ROOT, 'dist', 'cli', 'bundle', 'inputs.json'), 'utf8'),
  ) as Record<string, string[]>;
  const file = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (file === join(ROOT, 'dist', 'cli', 'bundle', 'mcp.cjs')) {
    return functions
      .filter((fn) => /^dist\/.*\.js$/.test(fn.functionName) && (fn.ranges[0]?.count ?? 0) > 0)
      .map((fn) => pathToFileURL(join(ROOT, fn.functionName)).href);
  }
  const modules = inputs[relative(ROOT, file)];
  return modules === undefined ? [url] : modules.map((module) => pathToFileURL(join(ROOT, module)).href);
}

interface CoveredFunction {
  readonly functionName: string;
  readonly ranges: readonly { readonly count: number }[];
}

/**
 * The modules `node dist/cli/main.js ARGS` ran, ES modules and CommonJS alike, from V8's coverage
 * of the process (NODE_V8_COVERAGE): every script it ran, and which functions of each.
 */
function modulesLoadedBy(args: readonly string[]): string[] {
  const dir = tempDir('oacp-startup-');
  const coverage = join(dir, 'coverage');
  spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: dir, NODE_V8_COVERAGE: coverage },
    timeout: 60_000,
  });
  const scripts = readdirSync(coverage).flatMap(
    (name) =>
      (
        JSON.parse(readFileSync(join(coverage, name), 'utf8')) as {
          result: { url: string; functions: CoveredFunction[] }[];
        }
      ).result,
  );
  const loaded = [
    ...new Set(
      scripts
        .filter((script) => script.url.startsWith('file://') || script.url.startsWith('/'))
        .flatMap((script) => modulesIn(script.url, script.functions)),
    ),
  ];
  rmSync(dir, { recursive: true, force: true });
  return loaded;
}

/** Whether `node dist/cli/main.js ARGS` loaded the Cedar engine, by Node's own module debug log. */
function loadsCedar(args: readonly string[], dir: string): boolean {
  const run = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: dir, NODE_DEBUG: 'module' },
    timeout: 60_000,
  });
  return /MODULE \d+: load "[^"]*cedar_wasm\.js"/.test(run.stderr);
}

describe('oacp start-up: an MCP client starts `oacp mcp run` for every session', () => {
  it('oacp mcp run does not load the Cedar engine (4 MB of WebAssembly) before the first call needs it', () => {
    const dir = tempDir('oacp-startup-cedar-');
    const policy = join(dir, 'allow.cedar');
    writeFileSync(policy, 'permit(principal, action, resource);\n');
    try {
      // A bad --tier stops once the bridge's modules are loaded, before any call.
      expect(loadsCedar(['mcp', 'run', '--tier', 'nope', '--', 'true'], dir)).toBe(false);
      // Positive control: a command that evaluates a policy loads it.
      expect(loadsCedar(['policy', 'test', '--policy', policy], dir)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads only the registrar of the command it runs', async () => {
    expect(await registrarsFor(['--home', '/h', 'mcp', 'run'])).toHaveLength(1);
    expect(await registrarsFor(['--home=/h', 'gateway'])).toHaveLength(1);
    // Help and a mistyped command (with its suggestion) need every command.
    expect((await registrarsFor(['--help'])).length).toBeGreaterThan(10);
    expect((await registrarsFor(['mpc'])).length).toBeGreaterThan(10);
    // --version prints and exits before any command could run: it loads none (it took a second).
    expect(await registrarsFor(['--version'])).toHaveLength(0);
    expect(await registrarsFor(['--home', '/h', '-V'])).toHaveLength(0);
  });

  it('oacp mcp run (stdio, one server) never loads the gateway, models, cluster, A2A, HTTP servers or database drivers', () => {
    // A bad --tier stops right after the bridge's modules are loaded, before anything starts.
    const loaded = modulesLoadedBy(['mcp', 'run', '--tier', 'nope', '--', 'true']);
    expect(loaded.some((url) => url.includes('/dist/mcp/run.js'))).toBe(true);
    const forbidden = [
      '/dist/gateway/runtime/',
      '/dist/gateway/http/',
      '/dist/a2a/',
      '/dist/cluster/',
      '/node_modules/hono/',
      '/node_modules/pg/',
      '/node_modules/etcd3/',
      '/node_modules/@opentelemetry/',
      '/node_modules/gpt-tokenizer/',
      // YAML is parsed only for a file the user gives or a catalog entry not yet in the home's cache.
      '/node_modules/yaml/',
      // Tiers other than the one asked for load at their first use.
      '/dist/airlock/gvisor/',
      '/dist/airlock/tee/',
      // The egress proxy (and node:http, node:net under it) loads only for a sandbox with a network allowlist.
      '/dist/airlock/egress/',
      '/node_modules/@modelcontextprotocol/sdk/dist/esm/server/streamableHttp.js',
      '/node_modules/@modelcontextprotocol/sdk/dist/esm/client/streamableHttp.js',
      '/node_modules/@modelcontextprotocol/sdk/dist/cjs/server/streamableHttp.js',
      '/node_modules/@modelcontextprotocol/sdk/dist/cjs/client/streamableHttp.js',
    ];
    expect(loaded.filter((url) => forbidden.some((part) => url.includes(part)))).toEqual([]);
    // Positive control: the gateway command does load its runtime.
    const gateway = modulesLoadedBy(['gateway', '--config', '/nonexistent/oacp.yaml']);
    expect(gateway.some((url) => url.includes('/dist/gateway/'))).toBe(true);
  });
});
