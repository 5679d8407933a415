// The same rule as oacp verify, shared: the console build compiles these two core files too.
import { duplicateJsonKey, duplicateKeyReason } from '../../core/duplicate-key.js';
import { concat, fromBase64, toHex, utf8, verifyEd25519 } from './bytes.js';
import { didKeyToEd25519 } from './did-key.js';
import { canonicalJson } from './jcs.js';
import { leafHash, verifyInclusion } from './merkle.js';
import { noteSignedBy, parseCheckpoint, parseLogKey, parseSignedNote } from './note.js';
import { parseTlogProof } from './tlog-proof.js';

/** One named check, in the order it ran; the console lists them beside the Verify button. */
export interface VerifyCheck {
  readonly name:
    | 'envelope'
    | 'payload-type'
    | 'statement'
    | 'signatures'
    | 'airlock-signature'
    | 'log-checkpoint'
    | 'log-inclusion'
    | 'published-inclusion'
    | 'cosignatures';
  readonly ok: boolean;
  readonly detail: string;
}

export interface BrowserVerification {
  readonly ok: boolean;
  readonly checks: readonly VerifyCheck[];
}

export interface BrowserVerifyInput {
  /** The DSSE envelope as parsed from the log entry's JSON. */
  readonly envelope: unknown;
  /** The c2sp.org/tlog-proof@v1 text for this entry. */
  readonly proof: string;
  /** The log's C2SP verifier key (pin it: the console asks for it once). */
  readonly logKey: string;
  /** Raw Ed25519 Airlock public keys. */
  readonly airlockKeys: readonly Uint8Array[];
  /** The index the receipt was fetched as: the proof must be for that entry. */
  readonly expectedIndex?: number;
}

const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const IN_TOTO_STATEMENT = 'https://in-toto.io/Statement/v1';
const OACP_PREDICATE = /^https:\/\/oacp\.dev\/attestation\/(tool-call|execution|model-call)\/v1$/;

/**
 * Verifies one receipt with WebCrypto only: the DSSE signatures over PAE, the
 * log's signature on the checkpoint, and the RFC 6962 inclusion of this exact
 * envelope. Never throws: every problem is a failed check (a deny with a reason).
 */
export async function verifyReceiptInBrowser(input: BrowserVerifyInput): Promise<BrowserVerification> {
  const checks: VerifyCheck[] = [];
  try {
    await checkEnvelope(input, checks);
    await checkLog(input, checks);
  } catch (error) {
    checks.push({ name: 'envelope', ok: false, detail: `verification failed: ${String(error)}` });
  }
  return { ok: checks.length > 0 && checks.every((check) => check.ok), checks };
}

interface Envelope {
  readonly payload: string;
  readonly payloadType: string;
  readonly signatures: readonly { readonly sig: string }[];
}

function asEnvelope(value: unknown): Envelope | string {
  if (typeof value !== 'object' || value === null) return 'not a DSSE envelope: not an object';
  const env = value as Record<string, unknown>;
  if (typeof env.payload !== 'string') return 'not a DSSE envelope: payload is not a string';
  if (typeof env.payloadType !== 'string' || env.payloadType === '')
    return 'not a DSSE envelope: payloadType is missing';
  if (!Array.isArray(env.signatures)) return 'not a DSSE envelope: signatures is not a list';
  if (env.signatures.length === 0) return 'the envelope carries no signatures';
  for (const entry of env.signatures) {
    const sig = (entry as Record<string, unknown> | null)?.sig;
    if (typeof sig !== 'string' || sig === '') return 'not a DSSE envelope: a signature has no sig';
  }
  return env as unknown as Envelope;
}

/** DSSE pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body. */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = utf8(payloadType);
  return concat(utf8(`DSSEv1 ${type.length} `), type, utf8(` ${payload.length} `), payload);
}

async function checkEnvelope(input: BrowserVerifyInput, checks: VerifyCheck[]): Promise<void> {
  const env = asEnvelope(input.envelope);
  if (typeof env === 'string') {
    checks.push({ name: 'envelope', ok: false, detail: env });
    return;
  }
  const payload = fromBase64(env.payload);
  if (payload === undefined) {
    checks.push({ name: 'envelope', ok: false, detail: 'payload is not canonical standard base64' });
    return;
  }
  checks.push({
    name: 'envelope',
    ok: true,
    detail: `DSSE envelope with ${env.signatures.length} signature(s)`,
  });
  checks.push(
    env.payloadType === IN_TOTO_PAYLOAD_TYPE
      ? { name: 'payload-type', ok: true, detail: IN_TOTO_PAYLOAD_TYPE }
      : {
          name: 'payload-type',
          ok: false,
          detail: `expected ${IN_TOTO_PAYLOAD_TYPE}, got ${env.payloadType}`,
        },
  );
  const statement = readStatement(payload);
  checks.push(
    typeof statement === 'string'
      ? { name: 'statement', ok: false, detail: statement }
      : { name: 'statement', ok: true, detail: statement.predicateType },
  );
  const agentKey = typeof statement === 'string' ? undefined : statement.agentKey;

  // Each signature must verify under an Airlock key or the key of the agent the statement names.
  const message = pae(env.payloadType, payload);
  const unattributed: number[] = [];
  let airlock = false;
  for (const [at, entry] of env.signatures.entries()) {
    const sig = fromBase64(entry.sig);
    let by: 'airlock' | 'agent' | undefined;
    for (const key of input.airlockKeys) {
      if (sig !== undefined && (await verifyEd25519(key, message, sig))) by = 'airlock';
    }
    if (by === undefined && sig !== undefined && agentKey !== undefined) {
      if (await verifyEd25519(agentKey, message, sig)) by = 'agent';
    }
    if (by === undefined) unattributed.push(at);
    if (by === 'airlock') airlock = true;
  }
  checks.push(
    unattributed.length === 0
      ? {
          name: 'signatures',
          ok: true,
          detail: `all ${env.signatures.length} signature(s) verify (Ed25519 over DSSE PAE)`,
        }
      : {
          name: 'signatures',
          ok: false,
          detail: `signature(s) #${unattributed.join(', #')} verify under neither an Airlock key (${input.airlockKeys.length} given) nor the agent's did:key`,
        },
  );
  checks.push({
    name: 'airlock-signature',
    ok: true,
    detail: airlock ? 'signed by the Airlock key' : 'absent: no signature from an Airlock key',
  });
}

function readStatement(payload: Uint8Array): { predicateType: string; agentKey?: Uint8Array } | string {
  let json: unknown;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
    json = JSON.parse(text);
  } catch {
    return 'payload is not JSON';
  }
  const repeated = duplicateJsonKey(text);
  if (repeated !== undefined) return duplicateKeyReason('the payload', repeated);
  const statement = json as Record<string, unknown> | null;
  if (typeof statement !== 'object' || statement === null || statement._type !== IN_TOTO_STATEMENT)
    return 'not an in-toto Statement v1';
  if (!Array.isArray(statement.subject) || statement.subject.length === 0)
    return 'not an in-toto Statement v1: no subject';
  const type = statement.predicateType;
  if (typeof type !== 'string' || !OACP_PREDICATE.test(type))
    return `predicate type ${JSON.stringify(type)} is not an OACP type`;
  const agent = (statement.predicate as { agent?: { did?: unknown } } | undefined)?.agent?.did;
  const agentKey = typeof agent === 'string' ? didKeyToEd25519(agent) : undefined;
  return agentKey === undefined ? { predicateType: type } : { predicateType: type, agentKey };
}

async function checkLog(input: BrowserVerifyInput, checks: VerifyCheck[]): Promise<void> {
  const fail = (name: VerifyCheck['name'], detail: string) => checks.push({ name, ok: false, detail });
  const key = await parseLogKey(input.logKey);
  if (key === undefined)
    return void fail('log-checkpoint', 'the log key is not a valid Ed25519 C2SP verifier key');
  const proof = parseTlogProof(input.proof);
  if (typeof proof === 'string') return void fail('log-inclusion', `tlog-proof: ${proof}`);
  const note = parseSignedNote(proof.checkpoint);
  const checkpoint = note === undefined ? undefined : parseCheckpoint(note.text);
  if (note === undefined || checkpoint === undefined)
    return void fail('log-checkpoint', 'the checkpoint is not a signed c2sp.org/tlog-checkpoint note');
  if (checkpoint.origin !== key.name)
    return void fail(
      'log-checkpoint',
      `the checkpoint is for ${checkpoint.origin}, the log key for ${key.name}`,
    );
  if (!(await noteSignedBy(note, key)))
    return void fail('log-checkpoint', 'the checkpoint carries no valid signature by the log key');
  checks.push({
    name: 'log-checkpoint',
    ok: true,
    detail: `checkpoint of ${checkpoint.origin} at size ${checkpoint.size} is signed by the log key (root ${toHex(checkpoint.root).slice(0, 16)}…)`,
  });
  if (input.expectedIndex !== undefined && proof.index !== input.expectedIndex)
    return void fail('log-inclusion', `the proof is for entry ${proof.index}, not ${input.expectedIndex}`);
  let entry: Uint8Array;
  try {
    entry = utf8(canonicalJson(input.envelope));
  } catch (error) {
    return void fail('log-inclusion', `cannot canonicalize the receipt: ${String(error)}`);
  }
  const included = await verifyInclusion(
    proof.index,
    checkpoint.size,
    await leafHash(entry),
    proof.proof,
    checkpoint.root,
  );
  if (!included.ok) return void fail('log-inclusion', included.reason);
  checks.push({
    name: 'log-inclusion',
    ok: true,
    detail: `receipt is entry ${proof.index} of ${checkpoint.size} (${proof.proof.length}-hash RFC 6962 inclusion proof)`,
  });
  const others = note.signatures.filter((line) => line.name !== key.name || line.keyId !== key.keyId);
  checks.push({
    name: 'cosignatures',
    ok: true,
    detail:
      others.length === 0
        ? 'no witness cosignatures on this checkpoint'
        : `${others.length} other signature(s): ${others.map((line) => line.name).join(', ')} (not checked: no witness keys pinned)`,
  });
}
