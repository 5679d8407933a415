import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { Agent, type buildConnector, fetch as undiciFetch } from 'undici';
import { didKeyFromPublicKey } from '../identity/did-key.js';
import { clusterError } from './errors.js';
import { certificateKey, selfIssuedCertificate } from './node-certificate.js';

/** PEM files of `cluster.tls` (paths already resolved against oacp.yaml). */
export interface ClusterTlsPaths {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** What the member listener serves with (src/gateway/http/listen.ts `tls`). */
export type ClusterListenerTls =
  | { readonly cert: string; readonly key: string; readonly clientCa: string }
  | { readonly certPem: string; readonly keyPem: string; readonly requirePeerCertificate: true };

/** This node's side of node-to-node mutual TLS: a configured CA, or self-issued from the node key. */
export interface ClusterTls {
  readonly mode: 'ca' | 'node-key';
  readonly listener: ClusterListenerTls;
  /** node-key mode: the did:key of this node's TLS key, published in its member record. */
  readonly nodeKey?: string;
  /** `fetch` that presents this node's certificate and accepts only the servers the mode trusts. */
  readonly fetch: typeof fetch;
  close(): Promise<void>;
}

/** A caller on the member listener: the node its certificate names, and (node-key mode) its key. */
export interface PeerIdentity {
  readonly nodeId: string;
  /** did:key of the certificate's Ed25519 key (the handshake proved the caller holds it). */
  readonly key?: string;
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
  return {
    mode: 'ca',
    listener: { cert: paths.cert, key: paths.key, clientCa: paths.ca },
    fetch: fetchThrough(agent),
    close: () => agent.close(),
  };
}

/**
 * `cluster.tls: node-key`: the node issues itself a certificate (CN = node id) for its TLS key
 * (derived from its log key, src/cluster/derived-key.ts), and pins its peers: a server is
 * accepted only when the key of its certificate is the one the member at that URL publishes
 * (`pinned`, from etcd membership), and the handshake proved the server holds that key. No CA
 * is involved, so no CA can vouch for a forged node.
 */
export function nodeKeyTls(
  nodeId: string,
  seed: Uint8Array,
  pinned: (origin: string) => Promise<string | undefined>,
): ClusterTls {
  const own = selfIssuedCertificate(nodeId, seed);
  const connector: buildConnector.connector = (options, callback) => {
    const socket = tlsConnect({
      host: options.hostname,
      port: Number(options.port),
      cert: own.certPem,
      key: own.keyPem,
      // Self-issued certificates chain to nothing; the pin below is the check.
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    const fail = (error: Error) => {
      socket.destroy();
      callback(error, null);
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      const origin = `${options.protocol}//${options.hostname}:${options.port}`;
      void pinned(origin).then(
        (expected) => {
          const presented = peerKey(socket);
          if (expected === undefined) return fail(new Error(`no member at ${origin} publishes a node key`));
          if (presented !== expected)
            return fail(new Error(`the node at ${origin} presented a key other than its published node key`));
          socket.removeListener('error', fail);
          callback(null, socket);
        },
        (error: unknown) => fail(error instanceof Error ? error : new Error(String(error))),
      );
    });
  };
  const agent = new Agent({ connect: connector });
  return {
    mode: 'node-key',
    listener: { certPem: own.certPem, keyPem: own.keyPem, requirePeerCertificate: true },
    nodeKey: didKeyFromPublicKey(own.publicKey),
    fetch: fetchThrough(agent),
    close: () => agent.close(),
  };
}

function fetchThrough(agent: Agent): typeof fetch {
  return ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) =>
    undiciFetch(
      input as never,
      { ...(init as object), dispatcher: agent } as never,
    )) as unknown as typeof fetch;
}

/** did:key of the Ed25519 key in the peer's certificate; undefined when there is none. */
function peerKey(socket: Partial<TLSSocket>): string | undefined {
  const certificate =
    typeof socket.getPeerX509Certificate === 'function' ? socket.getPeerX509Certificate() : undefined;
  const key = certificate === undefined ? undefined : certificateKey(certificate);
  return key === undefined ? undefined : didKeyFromPublicKey(key);
}

/**
 * Who a caller on the member listener is. CA mode: the node id a certificate the CA issued
 * names (the handshake refused any other). node-key mode: the node id its certificate names and
 * its key, for the listener to compare with the key that node publishes. Undefined: nobody.
 */
export function callerIdentity(socket: unknown, mode: ClusterTls['mode']): PeerIdentity | undefined {
  const tls = socket as Partial<TLSSocket> | undefined;
  if (tls === undefined || typeof tls.getPeerCertificate !== 'function') return undefined;
  if (mode === 'ca' && tls.authorized !== true) return undefined;
  const subject = tls.getPeerCertificate().subject as { CN?: unknown } | undefined;
  const nodeId = typeof subject?.CN === 'string' ? subject.CN : undefined;
  if (nodeId === undefined) return undefined;
  if (mode === 'ca') return { nodeId };
  const key = peerKey(tls);
  return key === undefined ? undefined : { nodeId, key };
}

function commonName(subject: string | { CN?: unknown } | undefined): string | undefined {
  if (subject === undefined) return undefined;
  if (typeof subject === 'object') return typeof subject.CN === 'string' ? subject.CN : undefined;
  const line = subject.split('\n').find((part) => part.startsWith('CN='));
  return line?.slice(3);
}
