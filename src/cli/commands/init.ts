import { KeyStore } from '../../identity/keystore.js';
import { defaultOrigin, parseOrigin, writeNodeConfig } from '../../node/node-config.js';
import type { CommandRegistrar } from '../program.js';

export const registerInit: CommandRegistrar = (program, context) => {
  program
    .command('init')
    .description("create this node's keys: the Airlock receipt signer and the log checkpoint signer")
    .option('--origin <origin>', 'the log origin (checkpoint name), e.g. oacp.example.com/log')
    .option('--force', 'replace the keys of an existing home (its agents are removed)')
    .action(async (options: { origin?: string; force?: boolean }, command) => {
      const home = context.home(command);
      const origin = options.origin === undefined ? undefined : parseOrigin(options.origin);
      const store = await KeyStore.init(home, {
        env: context.env,
        force: options.force === true,
        secrets: context.secrets,
      });
      const keys = store.publicKeys();
      writeNodeConfig(home, { version: 1, origin: origin ?? defaultOrigin(keys.log.raw) });
      const { out } = context.output;
      out(`initialized OACP home ${home}`);
      out(
        `  master key:     ${store.masterKeySource === 'env' ? 'from OACP_MASTER_KEY' : `${home}/master.key (0600)`}`,
      );
      out(`  airlock signer: ${keys.airlock.didKey}`);
      out(`  log signer:     ${keys.log.didKey}`);
    });
};
