import { readClusterStatus } from '../../cluster/status.js';
import { readMemberLogs } from '../../cluster/witness-status.js';
import { OacpError } from '../../core/errors.js';
import { escapeControl } from '../../core/terminal-text.js';
import { CliExit } from '../io.js';
import type { CommandRegistrar } from '../program.js';
import { collect } from './shared.js';

export const registerCluster: CommandRegistrar = (program, context) => {
  const cluster = program
    .command('cluster')
    .description('a cluster of gateways coordinated by etcd (docs/cluster.md)');
  cluster
    .command('status')
    .description('members, leader and agent placements, read from etcd')
    .requiredOption('--etcd <url>', 'an etcd client URL (repeatable)', collect, [])
    .option('--prefix <prefix>', 'the cluster key prefix in etcd', '/oacp')
    .action(async (options: { etcd: string[]; prefix: string }) => {
      for (const url of options.etcd) {
        if (!/^https?:\/\/[^\s/]+/.test(url))
          throw new CliExit(`--etcd: "${url}" is not an http(s):// URL`, 2);
      }
      let status: Awaited<ReturnType<typeof readClusterStatus>>;
      try {
        status = await readClusterStatus(options.etcd, options.prefix);
      } catch (error) {
        throw new CliExit(error instanceof OacpError ? error.message : String(error));
      }
      const { out } = context.output;
      out(`leader: ${status.leader ?? '(none)'}`);
      out(`members (${status.members.length}):`);
      for (const member of status.members) {
        const owns = [...status.placements.values()].filter((owner) => owner === member.id).length;
        out(`  ${member.id}  ${member.url}  lease ${member.lease}  agents ${owns}`);
      }
      out(`logs (latest checkpoint cosigned by other members, checked with the keys in etcd):`);
      for (const log of await readMemberLogs(status.members)) {
        const cosigned =
          log.cosignedSize === undefined
            ? 'not cosigned yet'
            : `size ${log.cosignedSize} cosigned by ${log.cosigners.join(', ')}`;
        const distrust =
          log.untrusted.length === 0 ? '' : `  UNTRUSTED (fork seen): ${log.untrusted.join(', ')}`;
        const error = log.error === undefined ? '' : `  (${log.error})`;
        // What members answer is remote text: escaped before it reaches the terminal.
        out(
          escapeControl(
            `  ${log.member}  ${log.origin ?? '(unknown origin)'}  ${cosigned}${distrust}${error}`,
          ),
        );
      }
      out(`placements (${status.placements.size}):`);
      for (const [agent, owner] of [...status.placements].sort(([a], [b]) => a.localeCompare(b))) {
        out(`  ${agent} -> ${owner}`);
      }
    });
};
