import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { derivedSeed } from '../../src/cluster/derived-key.js';
import { type NodeCertificate, selfIssuedCertificate } from '../../src/cluster/node-certificate.js';
import { nodeKeyTls } from '../../src/cluster/tls.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { KeyStore } from '../../src/identity/keystore.js';
import { type EtcdServer, etcdUnavailable } from './etcd-server.js';
import { cli, type GossipMembers, type Home, startGossipMembers, witnessView } from './gossip-homes.js';
import { getWith } from './member-pki.js';

const unavailable = etcdUnavailable();
if (unavailable !== undefined) console.warn(`cluster node-key TLS tests skipped: ${unavailable}`);

/** The certificate a gateway on this home issues itself (its key derived from the home's log key). */
function nodeCertificate(home: Home, nodeId: string): NodeCertificate {
  const logSigner = KeyStore.open(home.home, home.env).logSigner();
  return selfIssuedCertificate(nodeId, derivedSeed(logSigner, 'oacp/node-tls-key/v1'));
}

/**
 * Issue 13 item 4, the other mode: `cluster.tls: node-key`. No CA: each node issues itself a
 * certificate for a key derived from its log key and publishes the key in its etcd member
 * record; a member listener lets in only a certificate whose key is the one that node
 * publishes, and a member talks only to a server presenting the published key. The attack: a
 * forged node (the right name, another key), a stranger, no certificate, and a server
 * impersonating a member.
 */
describe.skipIf(unavailable !== undefined)('node-to-node mutual TLS from the node keys', () => {
  let members: GossipMembers | undefined;
  let etcd: EtcdServer | undefined;
  let homes: readonly Home[] = [];
  let t0Url = '';

  beforeAll(async () => {
    members = await startGossipMembers(['k0', 'k1'], { entries: 1, cluster: () => ({ tls: 'node-key' }) });
    ({ etcd, homes } = members);
  }, 60_000);

  afterAll(async () => {
    await members?.stop();
  });

  it('members gossip and cosign over TLS with their self-issued certificates, each pinned by etcd', async () => {
    const [k0] = homes as [Home, Home];
    await expect
      .poll(async () => (await witnessView(k0).catch(() => undefined))?.cosigners ?? [], {
        timeout: 40_000,
        interval: 300,
      })
      .toEqual(['oacp.test/k1/witness']);
    const status = cli(k0, ['cluster', 'status', '--etcd', etcd?.endpoint ?? '']);
    const line = status.stdout.split('\n').find((l) => l.trim().startsWith('k0 '));
    t0Url = /https:\/\/\S+/.exec(line ?? '')?.[0] ?? '';
    expect(t0Url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
  }, 60_000);

  it('refuses a forged node: the right name with another key, a stranger, no certificate', async () => {
    const [k0, k1] = homes as [Home, Home];
    const witness = `${t0Url}v1/log/witness`;
    // The positive control: k1's own certificate (its key as published) is let in.
    expect((await getWith(witness, nodeCertificate(k1, 'k1'))).status).toBe(200);
    const forged = selfIssuedCertificate('k1', randomBytes(32));
    const refusals = [forged, selfIssuedCertificate('intruder', randomBytes(32)), undefined];
    for (const client of refusals) {
      const answer = await getWith(witness, client);
      expect(answer.status).toBe(403);
      expect(answer.body).toContain('node key a registered node publishes');
    }
    // k0's real key under another node's name is no better.
    expect((await getWith(witness, { ...nodeCertificate(k0, 'k1') })).status).toBe(403);
  }, 30_000);

  it('a member refuses a server whose key is not the one published for that URL (an impersonated member)', async () => {
    const [k0, k1] = homes as [Home, Home];
    const k0Key = didKeyFromPublicKey(nodeCertificate(k0, 'k0').publicKey);
    const k1Key = didKeyFromPublicKey(nodeCertificate(k1, 'k1').publicKey);
    const origin = new URL(t0Url).origin;
    // The attack: the pin says k1's key lives at k0's address; k0 presents its own key.
    const fooled = nodeKeyTls('k9', randomBytes(32), async () => k1Key);
    await expect(fooled.fetch(`${origin}/v1/log/witness`)).rejects.toThrow();
    await fooled.close();
    // With the right pin the connection is made (and k9, no member, is then refused by k0).
    const pinned = nodeKeyTls('k9', randomBytes(32), async (at) => (at === origin ? k0Key : undefined));
    expect((await pinned.fetch(`${origin}/v1/log/witness`)).status).toBe(403);
    await pinned.close();
  }, 30_000);
});
