import { oacpJsonSchema } from '../../gateway/config/json-schema.js';
import { loadGatewayConfig } from '../../gateway/config/load.js';
import type { CommandRegistrar } from '../program.js';

/** `oacp config check FILE` and `oacp config schema`: the one oacp.yaml, checked before anything starts. */
export const registerConfig: CommandRegistrar = (program, context) => {
  const config = program.command('config').description('check oacp.yaml, or print its JSON Schema');

  config
    .command('check')
    .description('validate an oacp.yaml (the file read by oacp gateway --config and oacp mcp run --config)')
    .argument('<file>', 'the oacp.yaml to check')
    .action((file: string) => {
      const parsed = loadGatewayConfig(file);
      const servers = parsed.mcp.servers.map((server) => server.name);
      context.output.out(
        `${file}: ok (${servers.length} MCP server${servers.length === 1 ? '' : 's'}${servers.length === 0 ? '' : `: ${servers.join(', ')}`}; ${parsed.policies.length} policy file${parsed.policies.length === 1 ? '' : 's'})`,
      );
    });

  config
    .command('schema')
    .description('print the JSON Schema of oacp.yaml (also shipped as schema/oacp.schema.json)')
    .action(() => {
      context.output.out(JSON.stringify(oacpJsonSchema(), null, 2));
    });
};
