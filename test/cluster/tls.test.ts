import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, etcdUnavailable } from './etcd-server.js';
import { cli, type GossipMembers, type Home, startGossipMembers, witnessView } from './gossip-homes.js';
import { getWith, pki } from './member-pki.js';

const unavailable = etcdUnavailable();
if (unavailable !== undefined) console.warn(`cluster TLS tests skipped: ${unavailable}`);

/**
 * Issue 13 item 4 (node-to-node trust): with `cluster.tls`, members reach each other only
 * through a listener that requires a client certificate from the cluster CA naming a member
 * registered in etcd. The attack: a forged node (its own key, a certificate from another CA
 * or none, or a CA certificate for a node etcd does not list) tries to gossip or call in.
 */
describe.skipIf(unavailable !== undefined)('node-to-node mutual TLS', () => {
  let members: GossipMembers | undefined;
  let etcd: EtcdServer | undefined;
  let homes: readonly Home[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'oacp-cluster-pki-'));
  const { ca, issue, path } = pki(dir);
  let memberUrl = '';

  beforeAll(async () => {
    ca('cluster-ca');
    ca('other-ca');
    for (const node of ['t0', 't1']) issue(node, 'cluster-ca');
    issue('t1', 'other-ca', 'forged-t1');
    issue('intruder', 'cluster-ca');
    members = await startGossipMembers(['t0', 't1'], {
      entries: 1,
      cluster: (node) => ({
        tls: { ca: path('cluster-ca.pem'), cert: path(`${node}.pem`), key: path(`${node}.key`) },
      }),
    });
    ({ etcd, homes } = members);
  }, 60_000);

  afterAll(async () => {
    await members?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('members gossip and cosign over mutual TLS, registered under their TLS listener', async () => {
    const [t0] = homes as [Home, Home];
    await expect
      .poll(async () => (await witnessView(t0).catch(() => undefined))?.cosigners ?? [], {
        timeout: 40_000,
        interval: 300,
      })
      .toEqual(['oacp.test/t1/witness']);
    const status = cli(t0, ['cluster', 'status', '--etcd', etcd?.endpoint ?? '']);
    const line = status.stdout.split('\n').find((l) => l.trim().startsWith('t1 '));
    memberUrl = /https:\/\/\S+/.exec(line ?? '')?.[0] ?? '';
    expect(memberUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    // Without a member certificate, status cannot read the members' logs (and says why) ...
    expect(status.stdout).not.toMatch(/size \d+ cosigned by/);
    expect(status.stdout).toContain('GET /v1/log/witness failed');
    // ... with one (t0's), it lists each log with its cosigners.
    const tls = [
      '--tls-ca',
      path('cluster-ca.pem'),
      '--tls-cert',
      path('t0.pem'),
      '--tls-key',
      path('t0.key'),
    ];
    await expect
      .poll(() => cli(t0, ['cluster', 'status', '--etcd', etcd?.endpoint ?? '', ...tls]).stdout, {
        timeout: 20_000,
        interval: 500,
      })
      .toMatch(/t1 {2}oacp\.test\/t1 {2}size 1 cosigned by oacp\.test\/t0\/witness/);
    const half = cli(t0, [
      'cluster',
      'status',
      '--etcd',
      etcd?.endpoint ?? '',
      '--tls-ca',
      path('cluster-ca.pem'),
    ]);
    expect(half.status).toBe(2);
    expect(half.stderr).toContain('--tls-ca, --tls-cert and --tls-key go together');
    // Attack: a certificate file past the bound every user-named file has is refused, not read whole.
    const huge = path('huge.pem');
    writeFileSync(huge, '');
    truncateSync(huge, 64 * 1024 * 1024 + 1);
    const tooBig = cli(t0, [
      'cluster',
      'status',
      '--etcd',
      etcd?.endpoint ?? '',
      ...tls.slice(0, 3),
      huge,
      ...tls.slice(4),
    ]);
    expect(tooBig.status).toBe(2);
    expect(tooBig.stderr).toMatch(/--tls-cert: .*huge\.pem: larger than 64 MiB/);
  }, 60_000);

  it('refuses a forged node: no certificate, another CA, or a CA certificate for a node etcd does not list', async () => {
    const caPem = readFileSync(path('cluster-ca.pem'));
    const witness = `${memberUrl}v1/log/witness`;
    // The right node's certificate is let in (the positive control).
    const right = await getWith(
      witness,
      { cert: readFileSync(path('t0.pem')), key: readFileSync(path('t0.key')) },
      caPem,
    );
    expect(right.status).toBe(200);
    // No certificate, or one from another CA under a member's name: refused in the handshake.
    await expect(getWith(witness, undefined, caPem)).rejects.toThrow();
    await expect(
      getWith(
        witness,
        { cert: readFileSync(path('forged-t1.pem')), key: readFileSync(path('forged-t1.key')) },
        caPem,
      ),
    ).rejects.toThrow();
    // The CA's certificate for a node etcd does not list: 403.
    const intruder = await getWith(
      witness,
      { cert: readFileSync(path('intruder.pem')), key: readFileSync(path('intruder.key')) },
      caPem,
    );
    expect(intruder.status).toBe(403);
    expect(intruder.body).toContain('members only');
  }, 60_000);
});
