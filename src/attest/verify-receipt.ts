import { verifyEd25519 } from '../core/ed25519.js';
import { publicKeyFromDidKey } from '../identity/did-key.js';
import { keyFingerprint } from '../identity/public-key-forms.js';
import { type Envelope, EnvelopeSchema, envelopePayload, pae } from './dsse.js';
import { firstIssue } from './errors.js';
import { agentDidOf, isOacpPredicateType, type OacpStatement, readOacpStatement } from './oacp-statement.js';
import { envelopeDigest } from './receipt.js';
import { IN_TOTO_PAYLOAD_TYPE, type Statement, StatementSchema } from './statement.js';
import { type TeeQuoteVerifier, teeBinding } from './tee.js';
import { type TrustLevel, trustLevel } from './trust-level.js';

export type ReceiptCheckName =
  | 'envelope'
  | 'payload-type'
  | 'statement'
  | 'signatures'
  | 'airlock-signature'
  | 'agent-signature'
  | 'tee-quote'
  /** Present only when a check itself threw (a bug or a faulty TeeQuoteVerifier): always a failure. */
  | 'verification';

export interface ReceiptCheck {
  readonly name: ReceiptCheckName;
  readonly ok: boolean;
  readonly detail: string;
}

export interface VerifyReceiptOptions {
  /** Raw 32-byte Ed25519 keys the Airlock signs receipts with (current and rotated-out ones). */
  readonly airlockKeys: readonly Uint8Array[];
  /** When set, the statement must name this agent; otherwise any did:key in it is taken at its word. */
  readonly expectedAgentDid?: string;
  /** Computed by the log verifier: witness cosignatures on a checkpoint including this receipt. */
  readonly witnessed?: boolean;
  /** Checks hardware quotes; without one a quote cannot be confirmed and Verified is out of reach. */
  readonly teeVerifier?: TeeQuoteVerifier;
  /** Accept statements with predicate types OACP does not define (their predicates go unread). */
  readonly allowUnknownPredicateTypes?: boolean;
}

export interface ReceiptVerification {
  /** Every check passed. */
  readonly ok: boolean;
  readonly trustLevel: TrustLevel;
  readonly checks: readonly ReceiptCheck[];
  readonly statement?: Statement;
  readonly envelopeDigest?: string;
}

/**
 * Verifies a receipt offline from public keys. Reads like the format: envelope,
 * payload type, statement, then who signed, then the TEE quote. A signature
 * that verifies under no expected key fails the verification; it never just
 * lowers the trust level.
 */
export function verifyReceiptEnvelope(envelope: unknown, options: VerifyReceiptOptions): ReceiptVerification {
  const checks: ReceiptCheck[] = [];
  try {
    return verify(envelope, options, checks);
  } catch (error) {
    // An error inside a check is a refusal with a reason, never a pass.
    const detail = `check failed: ${error instanceof Error ? error.message : String(error)}`;
    return {
      ok: false,
      trustLevel: 'Untrusted',
      checks: [...checks, { name: 'verification', ok: false, detail }],
    };
  }
}

function verify(
  envelope: unknown,
  options: VerifyReceiptOptions,
  checks: ReceiptCheck[],
): ReceiptVerification {
  const pass = (name: ReceiptCheckName, detail: string) => checks.push({ name, ok: true, detail });
  const fail = (name: ReceiptCheckName, detail: string) => checks.push({ name, ok: false, detail });

  const shape = checkEnvelope(envelope);
  if (!shape.ok) {
    fail('envelope', shape.reason);
    return { ok: false, trustLevel: 'Untrusted', checks };
  }
  const env = shape.envelope;
  pass('envelope', `DSSE envelope with ${env.signatures.length} signature(s)`);

  if (env.payloadType === IN_TOTO_PAYLOAD_TYPE) pass('payload-type', IN_TOTO_PAYLOAD_TYPE);
  else fail('payload-type', `expected ${IN_TOTO_PAYLOAD_TYPE}, got ${JSON.stringify(env.payloadType)}`);

  const read = readStatement(envelopePayload(env), options.allowUnknownPredicateTypes === true);
  if (read.ok) pass('statement', read.detail);
  else fail('statement', read.reason);
  const oacp = read.ok ? read.oacp : undefined;

  // Who signed: each signature must belong to an Airlock key or to the agent the statement names.
  const agentDid = oacp === undefined ? undefined : agentDidOf(oacp);
  const agentKey = agentDid === undefined ? undefined : publicKeyFromDidKey(agentDid);
  const message = pae(env.payloadType, envelopePayload(env));
  let airlockBy: Uint8Array | undefined;
  let agentSigned = false;
  const unattributed: number[] = [];
  env.signatures.forEach((entry, index) => {
    const sig = Buffer.from(entry.sig, 'base64');
    const airlock = options.airlockKeys.find((key) => verifyEd25519(key, message, sig));
    if (airlock !== undefined) airlockBy ??= airlock;
    else if (agentKey !== undefined && verifyEd25519(agentKey, message, sig)) agentSigned = true;
    else unattributed.push(index);
  });
  if (unattributed.length === 0) pass('signatures', `all ${env.signatures.length} signature(s) verify`);
  else {
    fail(
      'signatures',
      `signature(s) #${unattributed.join(', #')} verify under neither an Airlock key (${options.airlockKeys.length} given) nor the agent's did:key`,
    );
  }

  if (airlockBy !== undefined)
    pass('airlock-signature', `verified with Airlock key ${keyFingerprint(airlockBy)}`);
  else pass('airlock-signature', 'absent: no signature from an Airlock key');

  if (options.expectedAgentDid !== undefined && agentDid !== options.expectedAgentDid) {
    fail(
      'agent-signature',
      `statement names agent ${agentDid ?? '(none)'}, expected ${options.expectedAgentDid}`,
    );
  } else if (agentSigned) pass('agent-signature', `verified with ${agentDid}`);
  else if (agentDid !== undefined) {
    pass('agent-signature', `absent: the statement names ${agentDid} but only the Airlock vouches for it`);
  } else pass('agent-signature', 'absent: the statement names no agent did:key');

  const tee = oacp === undefined ? { verified: false } : checkTee(oacp, options.teeVerifier);
  if (tee.check !== undefined) checks.push(tee.check);

  const ok = checks.every((check) => check.ok);
  const level = trustLevel({
    allChecksPassed: ok,
    airlockSigned: airlockBy !== undefined,
    agentSigned,
    teeVerified: tee.verified,
    witnessed: options.witnessed === true,
  });
  return {
    ok,
    trustLevel: level,
    checks,
    ...(read.ok ? { statement: read.statement } : {}),
    envelopeDigest: envelopeDigest(env),
  };
}

type EnvelopeShape = { ok: true; envelope: Envelope } | { ok: false; reason: string };

function checkEnvelope(value: unknown): EnvelopeShape {
  const parsed = EnvelopeSchema.safeParse(value);
  if (!parsed.success)
    return { ok: false, reason: `not a DSSE envelope: ${firstIssue(parsed.error, 'envelope')}` };
  const envelope = parsed.data;
  if (envelope.signatures.length === 0) return { ok: false, reason: 'the envelope carries no signatures' };
  if (envelopePayload(envelope).toString('base64') !== envelope.payload) {
    return { ok: false, reason: 'payload is not canonical standard base64' };
  }
  return { ok: true, envelope };
}

type StatementRead =
  | { ok: true; statement: Statement; oacp: OacpStatement | undefined; detail: string }
  | { ok: false; reason: string };

function readStatement(payload: Buffer, allowUnknown: boolean): StatementRead {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'payload is not JSON' };
  }
  const parsed = StatementSchema.safeParse(json);
  if (!parsed.success)
    return { ok: false, reason: `not an in-toto Statement v1: ${firstIssue(parsed.error, 'statement')}` };
  const statement = parsed.data;
  if (!isOacpPredicateType(statement.predicateType)) {
    const what = `predicate type ${JSON.stringify(statement.predicateType)} is not an OACP type`;
    return allowUnknown
      ? { ok: true, statement, oacp: undefined, detail: `${what}; its predicate was not interpreted` }
      : { ok: false, reason: `${what}; OACP verifies tool-call/v1 and execution/v1 receipts` };
  }
  const oacp = readOacpStatement(statement);
  if (!oacp.ok) return { ok: false, reason: oacp.reason };
  return { ok: true, statement, oacp: oacp.statement, detail: statement.predicateType };
}

function checkTee(
  statement: OacpStatement,
  verifier: TeeQuoteVerifier | undefined,
): { verified: boolean; check?: ReceiptCheck } {
  const evidence = statement.predicate.tee;
  if (evidence === undefined)
    return { verified: false, check: { name: 'tee-quote', ok: true, detail: 'no TEE quote' } };
  const binding = teeBinding(statement);
  if (evidence.reportData !== binding) {
    return {
      verified: false,
      check: { name: 'tee-quote', ok: false, detail: 'TEE quote is not bound to this statement' },
    };
  }
  if (verifier === undefined || !verifier.platforms.includes(evidence.platform)) {
    return {
      verified: false,
      check: {
        name: 'tee-quote',
        ok: false,
        detail: `cannot confirm the ${evidence.platform} quote: no quote verifier for that platform here`,
      },
    };
  }
  const result = verifier.verify(evidence, binding);
  return { verified: result.ok, check: { name: 'tee-quote', ok: result.ok, detail: result.detail } };
}
