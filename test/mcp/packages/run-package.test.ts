import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { HardenedTier } from '../../../src/airlock/native/hardened.js';
import { parseEnvelopeBytes } from '../../../src/attest/receipt.js';
import { KeyStore } from '../../../src/identity/keystore.js';
import { runMcpCommand } from '../../../src/mcp/run.js';
import { writeNodeConfig } from '../../../src/node/node-config.js';
import { OacpNode } from '../../../src/node/oacp-node.js';
import { PipeClientTransport, receiptIndex, testClient } from '../helpers.js';

const hardened = await new HardenedTier().availability();
const tier = hardened.available ? 'hardened' : 'light';

async function freshHome(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-pkg-home-'));
  await KeyStore.init(dir, { env: {} });
  writeNodeConfig(dir, { version: 1, origin: 'test.oacp.invalid/packages' });
  return dir;
}

/** Runs `oacp mcp run <argv>` in-process, lists tools with the SDK client and calls read_graph. */
async function listAndCall(home: string, command: string[]) {
  const toBridge = new PassThrough();
  const fromBridge = new PassThrough();
  const lines: string[] = [];
  const running = runMcpCommand(
    { command, tier },
    { home, env: {}, stdin: toBridge, stdout: fromBridge, log: (line) => lines.push(line) },
  );
  const client = testClient();
  await client.connect(new PipeClientTransport(fromBridge, toBridge));
  const tools = (await client.listTools()).tools.map((tool) => tool.name);
  const result = await client.callTool({ name: 'read_graph', arguments: {} });
  await client.close();
  await running;
  return { tools, result, lines, index: receiptIndex(result) };
}

describe('oacp mcp run npm:<package> (real registry install, sandboxed run)', () => {
  it('installs outside the sandbox, runs it in the tier, and names the tree digest in the receipt; npx -y maps onto the same tree', async () => {
    const home = await freshHome();
    const first = await listAndCall(home, ['npm:@modelcontextprotocol/server-memory']);
    expect(first.tools).toContain('create_entities');
    expect(first.result.isError).not.toBe(true);
    // The bridge says where it is before anything else: tier, home, log.
    expect(first.lines.find((line) => line.startsWith('oacp: MCP bridge for server-memory'))).toBe(
      `oacp: MCP bridge for server-memory: tier ${tier}, home ${home}, log ${join(home, 'log')}`,
    );
    const installed = first.lines.find((line) => line.includes('stored as sha256'));
    const digest = /sha256 ([0-9a-f]{64})/.exec(installed ?? '')?.[1];
    expect(digest).toBeDefined();

    // The wrapped npx form resolves to the pinned tree: no second install, same identity.
    const second = await listAndCall(home, ['npx', '-y', '@modelcontextprotocol/server-memory']);
    expect(second.tools).toEqual(first.tools);
    expect(second.lines.some((line) => line.includes('installing'))).toBe(false);

    const node = await OacpNode.open(home, {});
    try {
      for (const index of [first.index, second.index]) {
        const envelope = parseEnvelopeBytes(await node.log.entry(index));
        const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
        const files = statement.predicate.server.files as { path: string; sha256: string }[];
        expect(files).toContainEqual({ path: expect.stringContaining(digest ?? '?'), sha256: digest });
      }
    } finally {
      await node.close();
    }
  }, 240_000);
});
