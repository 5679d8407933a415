import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyStore } from '../../src/identity/keystore.js';
import { runMcpCommand } from '../../src/mcp/run.js';
import { writeNodeConfig } from '../../src/node/node-config.js';
import { PipeClientTransport, testClient } from './helpers.js';

const MEMORY = join(
  import.meta.dirname,
  '..',
  '..',
  'node_modules/@modelcontextprotocol/server-memory/dist/index.js',
);

/** Whether this process has a controlling terminal: then the bridge asks there and says nothing. */
function hasTerminal(): boolean {
  try {
    openSync('/dev/tty', 'r+');
    return true;
  } catch {
    return false;
  }
}

/**
 * `oacp mcp run --require-approval TOOL` as an MCP client starts it: stdio, no
 * terminal, no --http. The console of a gateway on the home is then the only
 * desk (docs/mcp-bridge.md, "Approval"), and the bridge said nothing of it: the
 * user saw only each call's "no approval within 2 m". At start it now says who
 * can decide and what gives it a desk of its own.
 */
describe.skipIf(hasTerminal())('a stdio bridge with approvals and no terminal', () => {
  const home = mkdtempSync(join(tmpdir(), 'oacp-approval-no-desk-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  const start = async (requireApproval: string[]): Promise<string[]> => {
    const toBridge = new PassThrough();
    const fromBridge = new PassThrough();
    const lines: string[] = [];
    const running = runMcpCommand(
      {
        command: [process.execPath, MEMORY],
        tier: 'hardened',
        name: 'memory',
        requireApproval,
        // Not root: this host's cgroup v1 limits are not enforceable, accepted by name.
        allowUnenforced: process.getuid?.() === 0 ? [] : ['memory', 'pids', 'cpu', 'disk_io'],
      },
      { home, env: {}, stdin: toBridge, stdout: fromBridge, log: (line) => lines.push(line) },
    );
    const client = testClient();
    await client.connect(new PipeClientTransport(fromBridge, toBridge));
    await client.close();
    await running;
    return lines;
  };

  it('says at start that only a gateway console on the home can decide, naming --http', async () => {
    await KeyStore.init(home, { env: {} });
    writeNodeConfig(home, { version: 1, origin: 'test.oacp.invalid/approval' });
    const said = (await start(['read_graph'])).filter((line) => line.includes("operator's approval"));
    expect(said).toEqual([
      expect.stringMatching(
        new RegExp(
          `^oacp: calls to read_graph wait for an operator's approval, and with no terminal here and no --http approval endpoint only the console of a gateway on home ${home} can decide them .*--approval-timeout$`,
        ),
      ),
    ]);
    expect((await start([])).some((line) => line.includes("operator's approval"))).toBe(false);
  }, 60_000);
});
