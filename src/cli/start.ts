import { join } from 'node:path';
import { codeCacheName, runThroughCodeCache, trustedCodeCache } from './code-cache.js';
import { commandName } from './commands/table.js';

/** The `oacp mcp` bundle the build made (scripts/bundle-cli.mjs): its folder and content hash. */
export interface McpBundle {
  readonly dir: string;
  readonly contentHash: string;
}

interface McpEntry {
  mcpMain(argv: readonly string[]): Promise<number>;
}

/**
 * The built CLI's start: `oacp mcp …` (what an MCP client starts for every session) runs from one
 * CommonJS file through V8's code cache, so nothing is resolved, read, compiled and linked module by
 * module before the server can start (docs/mcp-packages.md, "Start time"). Without a trusted cache
 * for this node (another node than the build's, a cache others could write), and for every other
 * command, the ES module bundle loads as before, each command's modules when it runs (`loadAll`):
 * compiled without its cache, the one file would cost more than the chunks.
 */
export async function startCli(
  argv: readonly string[],
  mcp: McpBundle,
  loadAll: () => Promise<unknown>,
): Promise<void> {
  const file = join(mcp.dir, 'mcp.cjs');
  const cache =
    commandName(argv) === 'mcp'
      ? trustedCodeCache(join(mcp.dir, codeCacheName('mcp', mcp.contentHash)), file)
      : 'absent';
  if (!Buffer.isBuffer(cache)) {
    await loadAll();
    return;
  }
  process.exitCode = await runThroughCodeCache<McpEntry>(file, cache).exports.mcpMain(argv);
}
