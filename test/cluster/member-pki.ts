import { execFileSync } from 'node:child_process';
import { request } from 'node:https';
import { join } from 'node:path';

/** An Ed25519 CA and the certificates it issues (subject CN = node id), made with the openssl CLI in `dir`. */
export function pki(dir: string) {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = (name: string) =>
    run(
      'req',
      '-x509',
      '-newkey',
      'ed25519',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
    );
  const issue = (cn: string, by: string, file = cn) => {
    run(
      'req',
      '-new',
      '-newkey',
      'ed25519',
      '-nodes',
      '-keyout',
      `${file}.key`,
      '-out',
      `${file}.csr`,
      '-subj',
      `/CN=${cn}`,
    );
    run(
      'x509',
      '-req',
      '-in',
      `${file}.csr`,
      '-CA',
      `${by}.pem`,
      '-CAkey',
      `${by}.key`,
      '-CAcreateserial',
      '-out',
      `${file}.pem`,
      '-days',
      '2',
    );
  };
  return { ca, issue, path: (name: string) => join(dir, name) };
}

/**
 * A GET to a member's mutual-TLS listener presenting `client` (or no certificate). The server is
 * checked against `ca` when given (its name is not: members are named by node id), else not at all.
 */
export function getWith(
  url: string,
  client:
    | { readonly cert: string | Buffer; readonly key: string | Buffer }
    | { readonly certPem: string; readonly keyPem: string }
    | undefined,
  ca?: Buffer,
) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const server =
      ca === undefined ? { rejectUnauthorized: false } : { ca, checkServerIdentity: () => undefined };
    const tls =
      client === undefined
        ? {}
        : 'certPem' in client
          ? { cert: client.certPem, key: client.keyPem }
          : { cert: client.cert, key: client.key };
    const req = request(url, { ...server, ...tls }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
