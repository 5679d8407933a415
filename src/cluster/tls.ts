import { X509Certificate } from 'node:crypto';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { Agent, type buildConnector, fetch as undiciFetch } from 'undici';
import { inputFileFailure, readInputBytes } from '../core/input-file.js';
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
 * members check against etcd). As a client it accepts a server only when the CA issued its
 * certificate and its CN is the node id `memberAt` gives for the URL reached (the member the
 * caller meant), so one member's valid certificate cannot answer at another's address. The
 * private key never appears in an error.
 */
export function loadClusterTls(
  paths: ClusterTlsPaths,
  nodeId: string,
  memberAt: (origin: string) => Promise<string | undefined>,
): ClusterTls {
  const read = (what: keyof ClusterTlsPaths): Buffer => {
    try {
      return readInputBytes(paths[what]);
    } catch (error) {
      throw clusterError(
        'CLUSTER_CONFIG_INVALID',
        `cluster.tls.${what}: cannot read ${paths[what]} (${inputFileFailure(error)})`,
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
  // Members are named by node id, not host name: the CA vouches for the certificate, and the
  // server's CN must be the member registered at the URL the caller meant (memberAt, from etcd).
  const connector = checkedConnector({ ca, cert, key, rejectUnauthorized: true }, async (socket, origin) => {
    const expected = await memberAt(origin);
    if (expected === undefined) return `no member is registered at ${origin}`;
    const named = commonName(socket.getPeerCertificate().subject);
    return named === expected
      ? undefined
      : `the node at ${origin} presented a certificate for "${named ?? '(no CN)'}", not for member "${expected}"`;
  });
  const agent = new Agent({ connect: connector });
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
  // Self-issued certificates chain to nothing; the pin is the check.
  const connector = checkedConnector(
    { cert: own.certPem, key: own.keyPem, rejectUnauthorized: false },
    async (socket, origin) => {
      const expected = await pinned(origin);
      if (expected === undefined) return `no member at ${origin} publishes a node key`;
      return peerKey(socket) === expected
        ? undefined
        : `the node at ${origin} presented a key other than its published node key`;
    },
  );
  const agent = new Agent({ connect: connector });
  return {
    mode: 'node-key',
    listener: { certPem: own.certPem, keyPem: own.keyPem, requirePeerCertificate: true },
    nodeKey: didKeyFromPublicKey(own.publicKey),
    fetch: fetchThrough(agent),
    close: () => agent.close(),
  };
}

/**
 * A TLS connector that hands undici the socket only after `refusal` (the mode's check of the
 * server it reached, by the origin the caller meant) returned no reason; any reason, or an
 * error while checking, fails the connection with that reason.
 */
function checkedConnector(
  options: Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>,
  refusal: (socket: TLSSocket, origin: string) => Promise<string | undefined>,
): buildConnector.connector {
  return (target, callback) => {
    const port = target.port === '' ? (target.protocol === 'https:' ? 443 : 80) : Number(target.port);
    const socket = tlsConnect({
      ...options,
      host: target.hostname,
      port,
      // Node ids are not host names: the identity is checked below, against etcd.
      checkServerIdentity: () => undefined,
      ALPNProtocols: ['http/1.1'],
    });
    const fail = (error: Error) => {
      socket.destroy();
      callback(error, null);
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      const origin = new URL(`${target.protocol}//${target.hostname}:${port}`).origin;
      void refusal(socket, origin).then(
        (reason) => {
          if (reason !== undefined) return fail(new Error(reason));
          socket.removeListener('error', fail);
          callback(null, socket);
        },
        (error: unknown) => fail(error instanceof Error ? error : new Error(String(error))),
      );
    });
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
