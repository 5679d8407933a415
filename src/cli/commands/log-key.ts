import type { Command } from 'commander';
import { formatVerifierKey, SIG_TYPE_ED25519 } from '../../log/note-keys.js';
import { readNodeConfig } from '../../node/node-config.js';
import type { CliContext } from '../program.js';
import { openKeyStore } from './shared.js';

/**
 * `oacp log key`: the log's verifier key (`origin+keyid+base64`), one line,
 * to enter as the console's "Expected log key" or give to any verifier
 * (docs/console.md). The same key `oacp keys export` prints as log.vkey.
 */
export function registerLogKey(log: Command, context: CliContext): void {
  log
    .command('key')
    .description("print the log's verifier key (the console's expected log key, log.vkey)")
    .action((_options, command: Command) => {
      context.output.out(homeLogKey(context, command));
    });
}

/** The home's log verifier key; throws (with the CLI's message) when the home has none. */
export function homeLogKey(context: CliContext, command: Command): string {
  const { origin } = readNodeConfig(context.home(command));
  const raw = openKeyStore(context, command).publicKeys().log.raw;
  return formatVerifierKey(origin, SIG_TYPE_ED25519, raw);
}
