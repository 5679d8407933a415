import { runCli } from './cli.js';
import { registerMcp } from './commands/mcp.js';
import { type Output, processOutput } from './io.js';

/**
 * `oacp mcp …` alone: the entry of the CLI's one-file bundle for the command an MCP client starts
 * for every session, run through V8's code cache (scripts/bundle-cli.mjs, src/cli/start.ts).
 */
export function mcpMain(argv: readonly string[]): Promise<number> {
  return runMcpCli(argv, processOutput(), process.env);
}

/** The same with another output and environment: what the build runs to fill the code cache. */
export function runMcpCli(argv: readonly string[], output: Output, env: NodeJS.ProcessEnv): Promise<number> {
  return runCli(argv, [registerMcp], output, env);
}
