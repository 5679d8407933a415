import type { Command } from 'commander';
import { OacpApiError } from '../../client/errors.js';
import { OacpClient } from '../../client/index.js';
import { describeError } from '../../core/errors.js';
import { inputFileFailure, readInputText } from '../../core/input-file.js';
import { CliExit } from '../io.js';
import type { CliContext } from '../program.js';

interface MigrateOptions {
  readonly to: string;
  readonly gateway: string;
  readonly apiKeyFile?: string;
}

/** `oacp agent migrate ID --to NODE`: asks any gateway of the cluster to move a running agent. */
export function registerAgentMigrate(agent: Command, context: CliContext): void {
  agent
    .command('migrate')
    .description('move a running agent to another cluster node with its state (docs/cluster.md)')
    .argument('<id>', "the agent's id (did:key) or name")
    .requiredOption('--to <node>', 'the node to move it to (its cluster.node_id)')
    .requiredOption('--gateway <url>', 'any gateway of the cluster, e.g. http://127.0.0.1:8081')
    .option('--api-key-file <path>', 'a file holding an API key with agents:write (default: $OACP_API_KEY)')
    .action(async (id: string, options: MigrateOptions) => {
      let baseUrl: URL;
      try {
        baseUrl = new URL(options.gateway);
      } catch {
        throw new CliExit(`--gateway: "${options.gateway}" is not a URL`, 2);
      }
      if (!/^https?:$/.test(baseUrl.protocol)) throw new CliExit('--gateway: must be an http(s):// URL', 2);
      const apiKey = readApiKey(options, context.env);
      try {
        const moved = await new OacpClient({ baseUrl, apiKey }).migrateAgent(id, options.to);
        context.output.out(
          `${moved.agent}: ${moved.source} -> ${moved.target}, state sha256:${moved.stateDigest}, receipt ${moved.receipt.index} in ${moved.receipt.log}`,
        );
      } catch (error) {
        if (error instanceof OacpApiError)
          throw new CliExit(`migration refused (${error.status}): ${error.message}`);
        throw new CliExit(`cannot reach ${baseUrl.href}: ${describeError(error)}`);
      }
    });
}

function readApiKey(options: MigrateOptions, env: NodeJS.ProcessEnv): string {
  if (options.apiKeyFile !== undefined) {
    try {
      return readInputText(options.apiKeyFile).trim();
    } catch (error) {
      throw new CliExit(`--api-key-file: cannot read ${options.apiKeyFile}: ${inputFileFailure(error)}`, 2);
    }
  }
  const key = env.OACP_API_KEY?.trim();
  if (key === undefined || key === '') throw new CliExit('--api-key-file: give it, or set OACP_API_KEY', 2);
  return key;
}
