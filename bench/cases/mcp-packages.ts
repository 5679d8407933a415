import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { KeyStore } from '../../src/identity/keystore.js';
import { acquirePackage } from '../../src/mcp/packages/acquire.js';
import { binCommand } from '../../src/mcp/packages/bin.js';
import { hostNpm } from '../../src/mcp/packages/npm-cli.js';
import { PackageStore } from '../../src/mcp/packages/store.js';
import { writeNodeConfig } from '../../src/node/node-config.js';
import { type BenchCase, figure, percentile } from '../harness.js';

const PACKAGE = '@modelcontextprotocol/server-memory';
const ROUNDS = 5;
const MAIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

/** Milliseconds from spawning `command` to the answer of the first tools/list. */
async function toFirstList(command: string, args: string[]): Promise<number> {
  const start = performance.now();
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(new StdioClientTransport({ command, args, stderr: 'ignore' }));
  await client.listTools();
  const elapsed = performance.now() - start;
  await client.close();
  return elapsed;
}

/**
 * `oacp mcp run npm:<pkg>` with the package already in the store (re-digested,
 * started in the hardened tier, bridged) to the first tools/list, beside
 * starting the same installed server directly with node.
 */
const storeStartCase: BenchCase = {
  id: 'mcp-package-start',
  title:
    'oacp mcp run npm:<package> (already in the store) to the first tools/list, beside the server started directly',
  async run(report) {
    const home = mkdtempSync(join(tmpdir(), 'oacp-bench-pkg-'));
    await KeyStore.init(home, { env: {} });
    writeNodeConfig(home, { version: 1, origin: 'bench.oacp.invalid/packages' });
    const stored = await acquirePackage(new PackageStore(home, hostNpm()), { name: PACKAGE }, report);
    const { command, script } = binCommand(stored);
    const direct: number[] = [];
    const bridged: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      direct.push(await toFirstList(command, [script]));
      bridged.push(
        await toFirstList(process.execPath, [MAIN, '--home', home, 'mcp', 'run', `npm:${PACKAGE}`]),
      );
    }
    report(
      `direct p50 ${percentile(direct, 50).toFixed(0)} ms, through oacp ${percentile(bridged, 50).toFixed(0)} ms`,
    );
    return [
      figure({
        case: 'mcp-package-start',
        metric: 'start to first tools/list p50',
        unit: 'ms',
        subject: percentile(bridged, 50),
        baselineName: 'node <installed server> directly',
        baseline: percentile(direct, 50),
        note: `${PACKAGE}, ${ROUNDS} rounds, ${new Date().toISOString()}, load average ${loadavg()
          .map((load) => load.toFixed(2))
          .join(
            ' ',
          )}; oacp checks the stored tree (by its stamp), starts the hardened tier and bridges with receipts; goal 1.5x`,
      }),
    ];
  },
};

export const mcpPackageCases: BenchCase[] = [storeStartCase];
