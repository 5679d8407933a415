import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { httpGossipPeer } from '../../cluster/gossip-peer.js';
import { describeError, isOacpError } from '../../core/errors.js';
import { gossipCheck } from '../../log/gossip.js';
import type { OacpNode } from '../../node/oacp-node.js';
import { CliExit } from '../io.js';
import type { CliContext } from '../program.js';
import { readInputFile } from './shared.js';

type WithNode = <T>(context: CliContext, command: Command, run: (node: OacpNode) => Promise<T>) => Promise<T>;

/** Exit status of a detected fork: a security event, distinct from an ordinary failure. */
export const FORK_EXIT = 3;

/**
 * `oacp log gossip --peer URL...`: exchange checkpoints with gateways serving this log's key
 * and prove, with consistency proofs, that all are one history. Peers' checkpoints (with
 * their cosignatures) are kept under <home>/log-gossip/; a fork is written there as evidence.
 */
export function registerLogGossip(log: Command, context: CliContext, withReader: WithNode): void {
  log
    .command('gossip')
    .description(
      'check that gateways serving this log key show one history (consistency proofs); a fork exits 3',
    )
    .requiredOption('--peer <url...>', "a peer gateway's base URL (repeatable)")
    .option(
      '--token-file <file>',
      'API key with scope audit:read at the peers (for their consistency proofs)',
    )
    .action(async (options: { peer: string[]; tokenFile?: string }, command: Command) => {
      const token =
        options.tokenFile === undefined ? undefined : readInputFile(options.tokenFile, 'token').trim();
      const home = context.home(command);
      const kept = join(home, 'log-gossip');
      mkdirSync(kept, { recursive: true });
      let forks = 0;
      await withReader(context, command, async (node) => {
        for (const url of options.peer) {
          const name = safeName(url);
          try {
            const outcome = await gossipCheck(
              node.log,
              node.log.verifierKey,
              httpGossipPeer(url, token === undefined ? {} : { token }),
            );
            writeFileSync(join(kept, `${name}.checkpoint`), outcome.note);
            context.output.out(
              `${url}: consistent (${outcome.how}; peer ${outcome.peerSize}, local ${outcome.localSize})`,
            );
          } catch (error) {
            if (isOacpError(error) && error.code === 'LOG_FORK') {
              forks += 1;
              const evidence = join(kept, `fork-${name}-${Date.now()}.txt`);
              writeFileSync(
                evidence,
                `${error.message}\n\nlocal checkpoint:\n${await node.log.checkpoint()}`,
              );
              context.output.err(`SECURITY: ${url}: ${error.message} (evidence in ${evidence})`);
            } else {
              throw new CliExit(`${url}: ${describeError(error)}`);
            }
          }
        }
      });
      if (forks > 0)
        throw new CliExit(`fork detected with ${forks} peer(s): two histories under one log key`, FORK_EXIT);
    });
}

function safeName(url: string): string {
  return url
    .replace(/^[a-z]+:\/\//, '')
    .replace(/[^A-Za-z0-9.-]/g, '_')
    .slice(0, 100);
}
