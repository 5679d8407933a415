import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadClusterTls } from '../../src/cluster/tls.js';

/** cluster.tls is checked before anything listens: the fix is named, the key never shown. */
describe('cluster.tls checked at start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-tls-config-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const p = (name: string) => join(dir, name);
  run(
    'req',
    '-x509',
    '-newkey',
    'ed25519',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=ca',
  );
  run(
    'req',
    '-x509',
    '-newkey',
    'ed25519',
    '-nodes',
    '-keyout',
    'other.key',
    '-out',
    'other.pem',
    '-days',
    '1',
    '-subj',
    '/CN=other',
  );
  run(
    'req',
    '-new',
    '-newkey',
    'ed25519',
    '-nodes',
    '-keyout',
    'n1.key',
    '-out',
    'n1.csr',
    '-subj',
    '/CN=n1',
  );
  run(
    'x509',
    '-req',
    '-in',
    'n1.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'n1.pem',
    '-days',
    '1',
  );
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a certificate the CA issued for this node id (the positive control)', async () => {
    const tls = loadClusterTls({ ca: p('ca.pem'), cert: p('n1.pem'), key: p('n1.key') }, 'n1');
    await tls.close();
  });

  it('refuses a certificate for another node id, from another CA, or a file that is not PEM', () => {
    expect(() => loadClusterTls({ ca: p('ca.pem'), cert: p('n1.pem'), key: p('n1.key') }, 'n2')).toThrow(
      /names node "n1", not this node's id "n2": issue it with CN=n2/,
    );
    expect(() => loadClusterTls({ ca: p('other.pem'), cert: p('n1.pem'), key: p('n1.key') }, 'n1')).toThrow(
      /was not issued by cluster.tls.ca/,
    );
    writeFileSync(p('junk.pem'), 'not a certificate');
    expect(() => loadClusterTls({ ca: p('ca.pem'), cert: p('junk.pem'), key: p('n1.key') }, 'n1')).toThrow(
      /must be PEM certificates/,
    );
    expect(() => loadClusterTls({ ca: p('ca.pem'), cert: p('n1.pem'), key: p('missing.key') }, 'n1')).toThrow(
      /cluster.tls.key: cannot read .*missing.key \(ENOENT\)/,
    );
  });
});
