import { createPublicKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  BasicConstraints,
  Certificate,
  Extension,
  Extensions,
  Name,
  RelativeDistinguishedName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';
import { privateKeyFromSeed } from '../core/ed25519.js';

const ED25519_OID = '1.3.101.112';
const COMMON_NAME_OID = '2.5.4.3';
const BASIC_CONSTRAINTS_OID = '2.5.29.19';
/** Reissued at every start; a day of validity covers clock skew between members with room. */
const VALIDITY_MS = 24 * 3600 * 1000;

export interface NodeCertificate {
  readonly certPem: string;
  /** PKCS#8 PEM of the node key, kept in memory only (never written, never logged). */
  readonly keyPem: string;
  /** The raw 32-byte Ed25519 public key: what peers pin. */
  readonly publicKey: Uint8Array;
}

/**
 * A self-issued X.509 certificate (RFC 5280, Ed25519 per RFC 8410) for a node's TLS key, its
 * subject CN the node id, not a CA. Nothing vouches for it but the key itself: peers accept it
 * only when its public key equals the node key the cluster publishes for that id.
 */
export function selfIssuedCertificate(nodeId: string, seed: Uint8Array, now = Date.now()): NodeCertificate {
  const privateKey = privateKeyFromSeed(seed);
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const name = new Name([
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type: COMMON_NAME_OID, value: new AttributeValue({ utf8String: nodeId }) }),
    ]),
  ]);
  const algorithm = new AlgorithmIdentifier({ algorithm: ED25519_OID });
  const constraints = AsnConvert.serialize(new BasicConstraints({ cA: false }));
  const tbs = new TBSCertificate({
    version: Version.v3,
    // Positive (leading 0x01), unique per issue.
    serialNumber: new Uint8Array([1, ...randomBytes(15)]).buffer,
    signature: algorithm,
    issuer: name,
    validity: new Validity({ notBefore: new Date(now - 5 * 60_000), notAfter: new Date(now + VALIDITY_MS) }),
    subject: name,
    subjectPublicKeyInfo: AsnConvert.parse(spki, SubjectPublicKeyInfo),
    extensions: new Extensions([
      new Extension({
        extnID: BASIC_CONSTRAINTS_OID,
        critical: true,
        extnValue: new OctetString(constraints),
      }),
    ]),
  });
  const signature = sign(null, Buffer.from(AsnConvert.serialize(tbs)), privateKey);
  const der = AsnConvert.serialize(
    new Certificate({
      tbsCertificate: tbs,
      signatureAlgorithm: algorithm,
      signatureValue: new Uint8Array(signature).buffer,
    }),
  );
  const certificate = new X509Certificate(Buffer.from(der));
  return {
    certPem: certificate.toString(),
    keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKey: rawEd25519(certificate),
  };
}

/** The raw Ed25519 public key of a certificate; undefined when it is not an Ed25519 key. */
export function certificateKey(certificate: X509Certificate): Uint8Array | undefined {
  try {
    return rawEd25519(certificate);
  } catch {
    return undefined;
  }
}

function rawEd25519(certificate: X509Certificate): Uint8Array {
  const key = certificate.publicKey;
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 key');
  const jwk = key.export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(String(jwk.x), 'base64url'));
}
