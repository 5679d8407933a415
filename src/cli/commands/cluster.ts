import { X509Certificate } from 'node:crypto';
import { readClusterStatus } from '../../cluster/status.js';
import { type ClusterTls, loadClusterTls } from '../../cluster/tls.js';
import { readMemberLogs } from '../../cluster/witness-status.js';
import { describeError, OacpError } from '../../core/errors.js';
import { inputFileFailure, readInputBytes } from '../../core/input-file.js';
import { escapeControl } from '../../core/terminal-text.js';
import { CliExit } from '../io.js';
import type { CommandRegistrar } from '../program.js';
import { collect } from './shared.js';

interface StatusOptions {
  etcd: string[];
  prefix: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** The node id a certificate file names (its subject CN), to check it like a node's own. */
function certificateNode(file: string): string {
  let bytes: Buffer;
  try {
    // Read to the bound every user-named file has: --tls-cert /dev/zero read until memory ran out.
    bytes = readInputBytes(file);
  } catch (error) {
    throw new CliExit(`--tls-cert: ${file}: ${inputFileFailure(error)}`, 2);
  }
  try {
    const subject = new X509Certificate(bytes).subject;
    return (
      subject
        .split('\n')
        .find((line) => line.startsWith('CN='))
        ?.slice(3) ?? ''
    );
  } catch {
    throw new CliExit(`--tls-cert: ${file} is not a readable PEM certificate`, 2);
  }
}

export const registerCluster: CommandRegistrar = (program, context) => {
  const cluster = program
    .command('cluster')
    .description('a cluster of gateways coordinated by etcd (docs/cluster.md)');
  cluster
    .command('status')
    .description('members, leader and agent placements, read from etcd')
    .requiredOption('--etcd <url>', 'an etcd client URL (repeatable)', collect, [])
    .option('--prefix <prefix>', 'the cluster key prefix in etcd', '/oacp')
    .option('--tls-ca <file>', 'with cluster.tls: the cluster CA, to read members over mutual TLS')
    .option('--tls-cert <file>', "with cluster.tls: a member's certificate (CN = its node id)")
    .option('--tls-key <file>', "with cluster.tls: that certificate's key")
    .action(async (options: StatusOptions) => {
      const tlsGiven = [options.tlsCa, options.tlsCert, options.tlsKey].filter((v) => v !== undefined).length;
      if (tlsGiven !== 0 && tlsGiven !== 3)
        throw new CliExit('--tls-ca, --tls-cert and --tls-key go together: give all three or none', 2);
      // Commander takes the empty default as the required option given.
      if (options.etcd.length === 0)
        throw new CliExit('--etcd: give the URL of an etcd member, e.g. --etcd http://127.0.0.1:2379', 2);
      for (const url of options.etcd) {
        if (!/^https?:\/\/[^\s/]+/.test(url))
          throw new CliExit(`--etcd: "${url}" is not an http(s):// URL`, 2);
      }
      let status: Awaited<ReturnType<typeof readClusterStatus>>;
      try {
        status = await readClusterStatus(options.etcd, options.prefix);
      } catch (error) {
        throw new CliExit(error instanceof OacpError ? error.message : describeError(error));
      }
      const { out } = context.output;
      out(`leader: ${status.leader ?? '(none)'}`);
      out(`members (${status.members.length}):`);
      for (const member of status.members) {
        const owns = [...status.placements.values()].filter((owner) => owner === member.id).length;
        out(`  ${member.id}  ${member.url}  lease ${member.lease}  agents ${owns}`);
      }
      out(`logs (latest checkpoint cosigned by other members, checked with the keys in etcd):`);
      let tls: ClusterTls | undefined;
      if (options.tlsCa !== undefined && options.tlsCert !== undefined && options.tlsKey !== undefined) {
        const paths = { ca: options.tlsCa, cert: options.tlsCert, key: options.tlsKey };
        try {
          // Each log is read from the member etcd registers at that URL, and only from it.
          const members = status.members;
          tls = loadClusterTls(
            paths,
            certificateNode(paths.cert),
            async (origin) => members.find((member) => new URL(member.url).origin === origin)?.id,
          );
        } catch (error) {
          throw new CliExit(
            error instanceof OacpError ? error.message.replaceAll('cluster.tls.', '--tls-') : String(error),
            2,
          );
        }
      }
      const logs = await readMemberLogs(status.members, tls?.fetch).finally(() => tls?.close());
      for (const log of logs) {
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
