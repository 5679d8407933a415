import { join } from 'node:path';
import { codeCacheName, runThroughCodeCache } from './code-cache.js';
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
 * module before the server can start (docs/mcp-packages.md, "Start time"); every other command
 * loads the ES module bundle, each command's modules when it runs (`loadAll`).
 */
export async function startCli(
  argv: readonly string[],
  mcp: McpBundle,
  loadAll: () => Promise<unknown>,
): Promise<void> {
  if (commandName(argv) !== 'mcp') {
    await loadAll();
    return;
  }
  const { exports } = runThroughCodeCache<McpEntry>(
    join(mcp.dir, 'mcp.cjs'),
    join(mcp.dir, codeCacheName('mcp', mcp.contentHash)),
  );
  process.exitCode = await exports.mcpMain(argv);
}
