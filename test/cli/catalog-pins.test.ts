import { createHash, sign } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { generateEd25519, rawPublicKey } from '../../src/core/ed25519.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { KeyStore } from '../../src/identity/keystore.js';
import { Catalog, shippedCatalogDir } from '../../src/mcp/catalog/catalog.js';
import type { McpRunOptionsInput } from '../../src/mcp/options.js';
import { runMcpCommand } from '../../src/mcp/run.js';
import { writeNodeConfig } from '../../src/node/node-config.js';
import { withLogState } from '../log-state.js';
import { PipeClientTransport, testClient } from '../mcp/helpers.js';
import { oacp } from './harness.js';

const hardened = await new HardenedTier().availability();
const tier = hardened.available ? 'hardened' : 'light';
const MEMORY = new Catalog().get('memory');
const created: string[] = [];
afterAll(() => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

async function freshHome(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-catalog-pins-'));
  created.push(dir);
  await KeyStore.init(dir, { env: {} });
  writeNodeConfig(dir, { version: 1, origin: 'test.oacp.invalid/catalog-pins' });
  return dir;
}

/** A copy of the shipped catalog re-signed by a test key after `edit` changed memory.yaml. */
function resignedCatalog(edit: (text: string) => string): Catalog {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-catalog-copy-'));
  created.push(dir);
  cpSync(shippedCatalogDir(), dir, { recursive: true });
  const { privateKey, publicKey } = generateEd25519();
  const did = didKeyFromPublicKey(rawPublicKey(publicKey));
  writeFileSync(join(dir, 'catalog-key.json'), JSON.stringify({ did, note: 'test key' }));
  const bytes = Buffer.from(edit(readFileSync(join(dir, 'memory.yaml'), 'utf8')));
  writeFileSync(join(dir, 'memory.yaml'), bytes);
  writeFileSync(
    join(dir, 'memory.yaml.sig'),
    JSON.stringify({
      did,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      signature: sign(null, bytes, privateKey).toString('base64'),
    }),
  );
  return new Catalog(dir);
}

async function run(home: string, input: McpRunOptionsInput, catalog?: Catalog) {
  const toBridge = new PassThrough();
  const fromBridge = new PassThrough();
  const lines: string[] = [];
  const running = runMcpCommand(
    { tier, ...input },
    {
      home,
      env: withLogState({}),
      stdin: toBridge,
      stdout: fromBridge,
      log: (line) => lines.push(line),
      ...(catalog === undefined ? {} : { catalog }),
    },
  );
  const client = testClient();
  await client.connect(new PipeClientTransport(fromBridge, toBridge));
  const tools = (await client.listTools()).tools.map((tool) => tool.name);
  const readGraph = await client.callTool({ name: 'read_graph', arguments: {} });
  const search = await client.callTool({ name: 'search_nodes', arguments: { query: 'x' } });
  await client.close();
  await running;
  return { tools, readGraph, search, lines };
}

describe('catalog pins preloaded (real registry install, sandboxed run)', () => {
  it('a tool redefined since the catalog reviewed it is caught on the very first start; the reviewed ones run', async () => {
    // The attack: the server now lists read_graph with a definition other than the one reviewed
    // (here the catalog's pin is moved, which is the same mismatch seen from the other side).
    const catalog = resignedCatalog((text) =>
      text.replace(/(- name: read_graph\n {4}digest: )[0-9a-f]{64}/, `$1${'ab'.repeat(32)}`),
    );
    const home = await freshHome();
    const first = await run(home, { command: [`npm:${MEMORY.package}@${MEMORY.version}`] }, catalog);
    expect(first.lines).toContainEqual(
      expect.stringContaining('tool definitions pinned by the catalog entry "memory"'),
    );
    expect(first.tools).not.toContain('read_graph');
    expect(first.readGraph.isError).toBe(true);
    expect(JSON.stringify(first.readGraph.content)).toMatch(/changed its definition since it was pinned/);
    expect(first.lines).toContainEqual(
      expect.stringContaining('security: tool-definition-changed: tool "read_graph"'),
    );
    // Positive control: a reviewed tool whose definition matches runs.
    expect(first.tools).toContain('search_nodes');
    expect(first.search.isError).not.toBe(true);
  }, 180_000);

  it('--catalog NAME runs the reviewed version with its grants and pins; every listed tool matches the shipped pins', async () => {
    const home = await freshHome();
    const shipped = await run(home, { catalog: 'memory' });
    expect(shipped.lines).toContainEqual(
      `oacp: server-memory: ${MEMORY.tools.length} tool definitions pinned by the catalog entry "memory" (${MEMORY.package}@${MEMORY.version}, ${MEMORY.tools.length} new here); a tool listed otherwise is blocked`,
    );
    expect(shipped.tools.sort()).toEqual(MEMORY.tools.map((tool) => tool.name).sort());
    // The reviewed bytes: the install digests as the catalog's tree digest, whatever the npm config.
    expect(shipped.lines).toContainEqual(expect.stringContaining(`stored as sha256 ${MEMORY.tree_digest}`));
    expect(shipped.readGraph.isError).not.toBe(true);
    const pins = JSON.parse(readFileSync(join(home, 'mcp', 'pins', 'server-memory.json'), 'utf8'));
    expect(pins.tools['server-memory/read_graph'].digest).toBe(
      MEMORY.tools.find((tool) => tool.name === 'read_graph')?.digest,
    );
  }, 180_000);

  it('--catalog with another program, or an unknown name, is refused with the reason', async () => {
    const home = await freshHome();
    const mismatch = await oacp([
      '--home',
      home,
      'mcp',
      'run',
      '--tier',
      'light',
      '--catalog',
      'memory',
      '--',
      process.execPath,
      '-e',
      '0',
    ]);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toContain(
      `--catalog memory: the catalog reviewed ${MEMORY.package}@${MEMORY.version}, this runs a command that is not an npm package`,
    );
    const unknown = await oacp(['--home', home, 'mcp', 'run', '--catalog', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no catalogued server "nope"');
    const shown = await oacp(['mcp', 'show', 'memory']);
    expect(shown.stdout).toContain('run        oacp mcp run --catalog memory');
    for (const tool of MEMORY.tools) expect(shown.stdout).toContain(`  ${tool.name}  sha256 ${tool.digest}`);
  });
});
