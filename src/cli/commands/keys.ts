import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatVerifierKey, SIG_TYPE_ED25519 } from '../../log/note-keys.js';
import { readNodeConfig } from '../../node/node-config.js';
import type { CommandRegistrar } from '../program.js';
import { registerApiKeyCommands } from './keys-api.js';
import { openKeyStore } from './shared.js';

export const registerKeys: CommandRegistrar = (program, context) => {
  const keys = program
    .command('keys')
    .description("this node's public keys (export) and the gateway's API keys (create, list, revoke)");
  registerApiKeyCommands(keys, context);
  keys
    .command('export')
    .description('print the public keys; with --out also write log.vkey, signer.pem and did:key forms')
    .option('--out <dir>', 'write the keys as files into this directory')
    .action((options: { out?: string }, command) => {
      const home = context.home(command);
      const store = openKeyStore(context, command);
      const { origin } = readNodeConfig(home);
      const forms = store.publicKeys();
      const vkey = formatVerifierKey(origin, SIG_TYPE_ED25519, forms.log.raw);
      const dids = `airlock ${forms.airlock.didKey}\nlog ${forms.log.didKey}\n`;
      const { out } = context.output;
      out(`log origin:        ${origin}`);
      out(`log.vkey:          ${vkey}`);
      out(`log did:key:       ${forms.log.didKey}`);
      out(`airlock did:key:   ${forms.airlock.didKey}`);
      out('signer.pem (Airlock, SubjectPublicKeyInfo):');
      out(forms.airlock.pem.trimEnd());
      if (options.out !== undefined) {
        const dir = resolve(options.out);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'log.vkey'), `${vkey}\n`);
        writeFileSync(join(dir, 'signer.pem'), forms.airlock.pem);
        writeFileSync(join(dir, 'did-keys.txt'), dids);
        out(`wrote ${join(dir, 'log.vkey')}, ${join(dir, 'signer.pem')}, ${join(dir, 'did-keys.txt')}`);
      }
    });
};
