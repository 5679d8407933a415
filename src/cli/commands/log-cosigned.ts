import { join } from 'node:path';
import type { Command } from 'commander';
import { OwnCosignatures } from '../../cluster/cosign-collect.js';
import { ForkRecords } from '../../cluster/gossip-forks.js';
import { nodeWitnessSigner, witnessVerifierKey } from '../../cluster/witness-key.js';
import { escapeControl } from '../../core/terminal-text.js';
import { loadGatewayConfig } from '../../gateway/config/load.js';
import { readWitnessState } from '../../log/witness-state.js';
import type { OacpNode } from '../../node/oacp-node.js';
import type { CliContext } from '../program.js';
import { openKeyStore } from './shared.js';

type WithNode = <T>(context: CliContext, command: Command, run: (node: OacpNode) => Promise<T>) => Promise<T>;

/**
 * `oacp log cosigned`: what the gateway's checkpoint gossip kept in `<home>/log-gossip/`: this
 * node's cosigning key (for peers' `witness_key`), its latest checkpoint that peers cosigned and
 * who did, the peers' trees it cosigned, and the forks it saw. Read-only, beside a gateway.
 */
export function registerLogCosigned(log: Command, context: CliContext, withNode: WithNode): void {
  log
    .command('cosigned')
    .description(
      "this log's latest checkpoint cosigned by peers, the peers' logs this node cosigned, forks seen",
    )
    .option('--json', 'print JSON')
    .option(
      '--config <file>',
      "the gateway's oacp.yaml: its log.peers' witness_key verify the kept cosignatures",
    )
    .action(async (options: { json?: boolean; config?: string }, command: Command) => {
      // Cosignatures are shown only once verified with a configured witness key.
      const witnessKeys =
        options.config === undefined
          ? []
          : loadGatewayConfig(options.config).log.peers.flatMap((peer) =>
              peer.witness_key === undefined ? [] : [peer.witness_key],
            );
      const dir = join(context.home(command), 'log-gossip');
      const logSigner = openKeyStore(context, command).logSigner();
      const report = await withNode(context, command, async (node) => {
        const loaded = await OwnCosignatures.open(join(dir, 'own.cosigned'), node.log, witnessKeys);
        const own = loaded.kept.latest;
        const witnessed = await readWitnessState(join(dir, 'witness-state.json'));
        const forks = (await ForkRecords.open(join(dir, 'forks.json'))).all();
        return {
          origin: node.origin,
          logKey: node.log.verifierKey,
          witnessKey: witnessVerifierKey(node.origin, nodeWitnessSigner(logSigner)),
          cosigned:
            own === undefined ? null : { size: own.size, cosigners: own.cosigners, checkpoint: own.note },
          leftOut: loaded.rejected,
          witnessed: [...witnessed].map(([origin, tree]) => ({ origin, size: tree.size })),
          forks: forks.map((fork) => ({
            peer: fork.peer,
            origin: fork.origin,
            at: fork.at,
            reason: fork.reason,
          })),
        };
      });
      const { out } = context.output;
      if (options.json === true) {
        out(JSON.stringify(report, null, 2));
        return;
      }
      out(`log:          ${report.origin}`);
      out(`log key:      ${report.logKey}`);
      out(`witness key:  ${report.witnessKey}`);
      out(
        report.cosigned === null
          ? 'cosigned:     none yet (no peer cosigned a checkpoint of this log)'
          : `cosigned:     size ${report.cosigned.size} by ${report.cosigned.cosigners.map(escapeControl).join(', ')}`,
      );
      for (const left of report.leftOut)
        out(
          escapeControl(
            `${left.security ? 'SECURITY ' : ''}left out: a cosignature by ${left.witness}: ${left.reason}${options.config === undefined ? ' (pass --config oacp.yaml to verify with its log.peers)' : ''}`,
          ),
        );
      out(`witnessed (${report.witnessed.length}):`);
      for (const tree of report.witnessed) out(`  ${escapeControl(tree.origin)}  size ${tree.size}`);
      out(`forks seen (${report.forks.length}):`);
      for (const fork of report.forks)
        out(escapeControl(`  SECURITY ${fork.at} ${fork.peer} ${fork.origin ?? ''}: ${fork.reason}`));
    });
}
