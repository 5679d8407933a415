import type { Command } from 'commander';
import { KeyStore } from '../../identity/keystore.js';
import type { CliContext } from '../program.js';

export function openKeyStore(context: CliContext, command: Command): KeyStore {
  return KeyStore.open(context.home(command), context.env);
}
