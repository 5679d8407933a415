import { publicKeyFromPem, rawPublicKey } from '../../core/ed25519.js';
import { verifyOffline } from '../../verify/offline-verifier.js';
import { CliExit } from '../io.js';
import type { CommandRegistrar } from '../program.js';
import { collect, readInputFile } from './shared.js';

export const registerVerify: CommandRegistrar = (program, context) => {
  program
    .command('verify')
    .description(
      'verify a receipt offline from public keys: signatures, statement, log inclusion, trust level',
    )
    .argument('<receipt>', 'receipt.json (a DSSE envelope)')
    .option('--proof <file>', 'a c2sp.org/tlog-proof@v1 file for the receipt')
    .option('--log-key <vkey>', "the log's C2SP verifier key file (log.vkey)")
    .option('--signer-key <pem>', 'an Airlock signer public key (signer.pem); repeatable', collect, [])
    .option('--witness-key <vkey>', 'a witness cosignature verifier key file; repeatable', collect, [])
    .option('--agent <did>', 'require the receipt to name this agent did:key')
    .option('--json', 'print the result as JSON')
    .action(
      (
        receiptPath: string,
        options: {
          proof?: string;
          logKey?: string;
          signerKey: string[];
          witnessKey: string[];
          agent?: string;
          json?: boolean;
        },
      ) => {
        const airlockKeys = options.signerKey.map((path) => {
          try {
            return rawPublicKey(publicKeyFromPem(readInputFile(path, 'signer key')));
          } catch (error) {
            throw new CliExit(
              `--signer-key ${path}: ${error instanceof Error ? error.message : String(error)}`,
            );
          }
        });
        const result = verifyOffline({
          receipt: readInputFile(receiptPath, 'receipt'),
          airlockKeys,
          ...(options.proof === undefined ? {} : { proof: readInputFile(options.proof, 'proof') }),
          ...(options.logKey === undefined
            ? {}
            : { logKey: readInputFile(options.logKey, 'log key').trim() }),
          witnessKeys: options.witnessKey.map((path) => readInputFile(path, 'witness key').trim()),
          ...(options.agent === undefined ? {} : { expectedAgentDid: options.agent }),
        });
        const { out } = context.output;
        if (options.json === true) out(JSON.stringify(result, null, 2));
        else {
          for (const check of result.checks)
            out(`${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}`);
          out(`trust level: ${result.trustLevel}`);
          out(result.ok ? 'verified' : 'NOT verified');
        }
        if (!result.ok) throw new CliExit('', 1);
      },
    );
};
