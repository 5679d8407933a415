import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCosignatures } from '../../src/log/cosignature.js';
import { type EtcdServer, etcdUnavailable } from './etcd-server.js';
import { cli, type GossipMembers, type Home, startGossipMembers, witnessView } from './gossip-homes.js';

const unavailable = etcdUnavailable();
if (unavailable !== undefined) console.warn(`cluster gossip tests skipped: ${unavailable}`);

/**
 * Issue 13 item 4: in a cluster, members gossip without any `log.peers`: each finds the others'
 * log and witness keys in their etcd member records, cosigns their checkpoints, and
 * `oacp cluster status` lists every member's log with its latest checkpoint and who cosigned it.
 */
describe.skipIf(unavailable !== undefined)('cluster members cosign each other (etcd)', () => {
  let members: GossipMembers | undefined;
  let etcd: EtcdServer | undefined;
  let homes: readonly Home[] = [];

  beforeAll(async () => {
    members = await startGossipMembers(['c0', 'c1', 'c2'], { entries: 2 });
    ({ etcd, homes } = members);
  }, 60_000);

  afterAll(async () => {
    await members?.stop();
  });

  it('cosigns every other member, and cluster status shows each log with its cosigners', async () => {
    const [c0, c1, c2] = homes as [Home, Home, Home];
    await expect
      .poll(async () => (await witnessView(c0).catch(() => undefined))?.cosigners ?? [], {
        timeout: 40_000,
        interval: 300,
      })
      .toEqual(['oacp.test/c1/witness', 'oacp.test/c2/witness']);
    const view = await witnessView(c0);
    expect(verifyCosignatures(view.checkpoint, [c1.witnessKey, c2.witnessKey], 2).ok).toBe(true);
    expect(Object.keys((await witnessView(c1)).cosigned).sort()).toEqual(['oacp.test/c0', 'oacp.test/c2']);

    await expect
      .poll(
        () => {
          const status = cli(c0, ['cluster', 'status', '--etcd', etcd?.endpoint ?? '']);
          return status.stdout
            .split('\n')
            .filter((line) => /cosigned by oacp\.test\/c\d\/witness, /.test(line)).length;
        },
        { timeout: 40_000, interval: 500 },
      )
      .toBe(3);
    const status = cli(c0, ['cluster', 'status', '--etcd', etcd?.endpoint ?? '']);
    expect(status.stdout).toContain(
      'c1  oacp.test/c1  size 2 cosigned by oacp.test/c0/witness, oacp.test/c2/witness',
    );
  }, 120_000);
});
