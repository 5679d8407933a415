import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadClusterTls } from '../../src/cluster/tls.js';
import { pki } from './member-pki.js';

/** cluster.tls is checked before anything listens: the fix is named, the key never shown. */
describe('cluster.tls checked at start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-tls-config-'));
  const { ca, issue, path: p } = pki(dir);
  ca('ca');
  ca('other');
  for (const node of ['n1', 'n2', 'n3']) issue(node, 'ca');
  const nobody = async () => undefined;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a certificate the CA issued for this node id (the positive control)', async () => {
    const tls = loadClusterTls({ ca: p('ca.pem'), cert: p('n1.pem'), key: p('n1.key') }, 'n1', nobody);
    await tls.close();
  });

  it('refuses a certificate for another node id, from another CA, or a file that is not PEM', () => {
    const load = (ca: string, cert: string, key: string, node: string) =>
      loadClusterTls({ ca: p(ca), cert: p(cert), key: p(key) }, node, nobody);
    expect(() => load('ca.pem', 'n1.pem', 'n1.key', 'n2')).toThrow(
      /names node "n1", not this node's id "n2": issue it with CN=n2/,
    );
    expect(() => load('other.pem', 'n1.pem', 'n1.key', 'n1')).toThrow(/was not issued by cluster.tls.ca/);
    writeFileSync(p('junk.pem'), 'not a certificate');
    expect(() => load('ca.pem', 'junk.pem', 'n1.key', 'n1')).toThrow(/must be PEM certificates/);
    expect(() => load('ca.pem', 'n1.pem', 'missing.key', 'n1')).toThrow(
      /cluster.tls.key: cannot read .*missing.key \(ENOENT\)/,
    );
  });

  /**
   * The attack: member n3, holding a valid certificate from the cluster CA, answers at the
   * address etcd registers for member n2 (a hijacked port or address). n1 meant n2, so it
   * refuses before sending anything; at n3's own address the same server is accepted.
   */
  it('a client refuses a valid CA certificate of another member at the address it meant', async () => {
    const requests: string[] = [];
    const server: Server = createServer(
      {
        cert: readFileSync(p('n3.pem')),
        key: readFileSync(p('n3.key')),
        ca: readFileSync(p('ca.pem')),
        requestCert: true,
      },
      (req, res) => {
        requests.push(req.url ?? '');
        res.end('{}');
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = (registered: string | undefined) =>
      loadClusterTls({ ca: p('ca.pem'), cert: p('n1.pem'), key: p('n1.key') }, 'n1', async (at) =>
        at === origin ? registered : undefined,
      );
    try {
      const meantN2 = client('n2');
      const refused = await meantN2.fetch(`${origin}/v1/log/witness`).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(Error);
      expect(String((refused as Error & { cause?: unknown }).cause)).toContain(
        `presented a certificate for "n3", not for member "n2"`,
      );
      // Nobody registered at that address: refused too.
      const unknown = await client(undefined)
        .fetch(`${origin}/v1/log/witness`)
        .catch((error: unknown) => error);
      expect(String((unknown as Error & { cause?: unknown }).cause)).toContain(
        `no member is registered at ${origin}`,
      );
      expect(requests).toEqual([]);
      // The positive control: n3 at n3's registered address.
      const meantN3 = client('n3');
      expect((await meantN3.fetch(`${origin}/v1/log/witness`)).status).toBe(200);
      expect(requests).toEqual(['/v1/log/witness']);
      await Promise.all([meantN2.close(), meantN3.close()]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
