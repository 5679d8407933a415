import type { Command } from 'commander';
import { describeError } from '../../core/errors.js';
import { type FsckOptions, fsckLog, repairLog } from '../../log/fsck.js';
import { formatVerifierKey, SIG_TYPE_ED25519 } from '../../log/note-keys.js';
import { signedStatePath } from '../../log/signed-state.js';
import { readNodeConfig } from '../../node/node-config.js';
import { logDirectory } from '../../node/oacp-node.js';
import { CliExit } from '../io.js';
import type { CliContext } from '../program.js';
import { openKeyStore } from './shared.js';

/** `oacp log fsck [--repair]`: check every record, tile and signed size; repair only what is proven. */
export function registerLogFsck(log: Command, context: CliContext): void {
  log
    .command('fsck')
    .description(
      'check the log (records, checkpoint, signed-size state, every tile and bundle); --repair fixes what can be proven',
    )
    .option(
      '--repair',
      'rewrite tiles from a verified log.wal, or rebuild log.wal from tiles that match the signed checkpoint; never shrinks a signed tree',
    )
    .option('--json', 'machine output')
    .action(async (options: { repair?: boolean; json?: boolean }, command: Command) => {
      const home = context.home(command);
      const { origin } = readNodeConfig(home);
      const vkey = formatVerifierKey(
        origin,
        SIG_TYPE_ED25519,
        openKeyStore(context, command).publicKeys().log.raw,
      );
      const fsck: FsckOptions = { origin, vkey, stateFile: signedStatePath(vkey, context.env) };
      const dir = logDirectory(home);
      const actions: string[] = [];
      if (options.repair === true) {
        // Twice at most: a rebuilt log.wal may then let the tiles be rewritten from it.
        for (let round = 0; round < 2 && !(await fsckLog(dir, fsck)).ok; round += 1) {
          try {
            actions.push(...(await repairLog(dir, fsck)));
          } catch (error) {
            throw new CliExit(`cannot repair: ${describeError(error)}`);
          }
        }
      }
      const report = await fsckLog(dir, fsck);
      if (options.json === true) {
        context.output.out(JSON.stringify({ ...report, actions }));
      } else {
        for (const action of actions) context.output.out(`repaired: ${action}`);
        context.output.out(
          `log.wal: ${report.walRecords} valid records; checkpoint: ${report.checkpointSize ?? 'unreadable'}; signed-size state: ${report.signedStateSize ?? 'none'}`,
        );
        for (const problem of report.problems) context.output.out(`problem: ${problem}`);
      }
      if (!report.ok)
        throw new CliExit(
          `the log has ${report.problems.length} problem(s)${options.repair === true ? ' left' : '; `oacp log fsck --repair` fixes what can be proven'}`,
        );
      if (options.json !== true) context.output.out('ok');
    });
}
