import type { CommandRegistrar } from '../program.js';
import { registerAgentMigrate } from './agent-migrate.js';
import { openKeyStore } from './shared.js';

export const registerAgent: CommandRegistrar = (program, context) => {
  const agent = program.command('agent').description('agent identities (Ed25519 keys named by did:key)');
  agent
    .command('create')
    .description('create an agent identity')
    .argument('<name>', 'agent name: 1-64 of a-z 0-9 _ -, starting with a letter or digit')
    .action((name: string, _options, command) => {
      const created = openKeyStore(context, command).createAgent(name);
      context.output.out(`${created.name} ${created.did}`);
    });
  agent
    .command('list')
    .description('list agent identities')
    .action((_options, command) => {
      for (const info of openKeyStore(context, command).listAgents())
        context.output.out(`${info.name} ${info.did}`);
    });
  registerAgentMigrate(agent, context);
};
