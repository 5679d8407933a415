import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';
import { clusterError } from './errors.js';

/** PEM files of `cluster.tls` (paths already resolved against oacp.yaml). */
export interface ClusterTlsPaths {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** This node's side of node-to-node mutual TLS. */
export interface ClusterTls {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Where the key and certificates came from: for the listener, which reads them itself. */
  readonly paths: ClusterTlsPaths;
  /** `fetch` that presents this node's certificate and accepts only servers the CA issued. */
  readonly fetch: typeof fetch;
  close(): Promise<void>;
}

/**
 * Loads `cluster.tls` and checks it before anything listens: the files are readable PEM, the
 * certificate was issued by the CA, and its subject CN is this node's id (the identity other
 * members check against etcd). The private key never appears in an error.
 */
export function loadClusterTls(paths: ClusterTlsPaths, nodeId: string): ClusterTls {
  const read = (what: keyof ClusterTlsPaths): Buffer => {
    try {
      return readFileSync(paths[what]);
    } catch (error) {
      throw clusterError(
        'CLUSTER_CONFIG_INVALID',
        `cluster.tls.${what}: cannot read ${paths[what]} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
      );
    }
  };
  const [ca, cert, key] = [read('ca'), read('cert'), read('key')];
  let own: X509Certificate;
  let authority: X509Certificate;
  try {
    own = new X509Certificate(cert);
    authority = new X509Certificate(ca);
  } catch {
    throw clusterError(
      'CLUSTER_CONFIG_INVALID',
      'cluster.tls.cert and cluster.tls.ca must be PEM certificates',
    );
  }
  if (!own.checkIssued(authority) || !own.verify(authority.publicKey))
    throw clusterError('CLUSTER_CONFIG_INVALID', 'cluster.tls.cert was not issued by cluster.tls.ca');
  const cn = commonName(own.subject);
  if (cn !== nodeId)
    throw clusterError(
      'CLUSTER_CONFIG_INVALID',
      `cluster.tls.cert names node "${cn ?? '(no CN)'}", not this node's id "${nodeId}": issue it with CN=${nodeId}`,
    );
  const agent = new Agent({
    connect: {
      ca,
      cert,
      key,
      rejectUnauthorized: true,
      // Members are named by node id, not host name: the CA vouches for the certificate, and the
      // peer must name a node id (the receiving side checks the caller against etcd).
      checkServerIdentity: (_host, peer) =>
        commonName(peer.subject) === undefined
          ? new Error('the peer certificate names no node (subject CN)')
          : undefined,
    },
  });
  const clusterFetch = ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) =>
    undiciFetch(
      input as never,
      { ...(init as object), dispatcher: agent } as never,
    )) as unknown as typeof fetch;
  return { ca, cert, key, paths, fetch: clusterFetch, close: () => agent.close() };
}

/** The node id a mutually authenticated caller's certificate names; undefined when not authorized. */
export function callerNodeId(socket: unknown): string | undefined {
  const tls = socket as Partial<TLSSocket> | undefined;
  if (tls?.authorized !== true || typeof tls.getPeerCertificate !== 'function') return undefined;
  const subject = tls.getPeerCertificate().subject as { CN?: unknown } | undefined;
  return typeof subject?.CN === 'string' ? subject.CN : undefined;
}

function commonName(subject: string | { CN?: unknown } | undefined): string | undefined {
  if (subject === undefined) return undefined;
  if (typeof subject === 'object') return typeof subject.CN === 'string' ? subject.CN : undefined;
  const line = subject.split('\n').find((part) => part.startsWith('CN='));
  return line?.slice(3);
}
