import { jsonDepth, tooDeep } from '../core/bounded-json.js';
import { sha256Hex } from '../core/digest.js';
import { duplicateJsonKey, duplicateKeyReason } from '../core/duplicate-key.js';
import { publicKeyFromDidKey } from '../identity/did-key.js';
import { type Envelope, EnvelopeSchema, envelopePayload, MAX_ENVELOPE_SIGNATURES, pae } from './dsse.js';
import { firstIssue } from './errors.js';
import { agentDidOf, isOacpPredicateType, type OacpStatement, readOacpStatement } from './oacp-statement.js';
import { envelopeDigest } from './receipt.js';
import { CandidateKey, SignatureAttribution, type SignatureQuestion } from './signature-attribution.js';
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
  return new ReceiptVerifier(options).verify(envelope);
}

/** Per receipt, on top of the verifier's options. */
export interface ReceiptContext {
  /** Overrides the verifier's `witnessed` for this receipt (the log check decides it per receipt). */
  readonly witnessed?: boolean;
  /**
   * The JCS bytes of `envelope` as given, when the caller already made them (for
   * the log's leaf hash): the envelope digest is then hashed from them, not
   * canonicalized again.
   */
  readonly canonical?: Uint8Array;
}

/**
 * verifyReceiptEnvelope for many receipts under the same options: keys are made
 * into KeyObjects once, and a batch can have its signature checks answered on
 * other threads (`begin`, then `questions`/`answer`, then `result`).
 */
export class ReceiptVerifier {
  private readonly airlock: readonly CandidateKey[];
  private readonly agents = new Map<string, CandidateKey>();

  constructor(private readonly options: VerifyReceiptOptions) {
    this.airlock = options.airlockKeys.map((raw) => new CandidateKey(raw));
  }

  verify(envelope: unknown, context: ReceiptContext = {}): ReceiptVerification {
    const pending = this.begin(envelope, context);
    pending.settle();
    return pending.result();
  }

  /** Starts verifying: everything but the signature checks, which the returned receipt asks for. */
  begin(envelope: unknown, context: ReceiptContext = {}): PendingReceipt {
    return new PendingReceipt(this, this.options, envelope, context);
  }

  get airlockKeys(): readonly CandidateKey[] {
    return this.airlock;
  }

  /** The agent's key, kept per verifier (bounded) since a batch often holds many receipts of one agent. */
  agentKey(did: string): CandidateKey {
    let key = this.agents.get(did);
    if (key === undefined) {
      key = new CandidateKey(publicKeyFromDidKey(did));
      if (this.agents.size >= AGENT_KEY_CACHE_LIMIT) this.agents.clear();
      this.agents.set(did, key);
    }
    return key;
  }
}

const AGENT_KEY_CACHE_LIMIT = 1024;

/**
 * Deepest nesting a receipt's envelope or statement may have. Every OACP predicate is a strict
 * schema a few levels deep, so this refuses nothing OACP writes; JSON.parse copes with any depth
 * but builds every level, so a 64 MiB file of brackets took gigabytes of heap and, under a
 * smaller heap, killed the verifier with a V8 stack trace instead of a reason.
 */
export const MAX_RECEIPT_DEPTH = 64;

/** One receipt part-way through verification: its signature checks may be answered elsewhere. */
export class PendingReceipt {
  private readonly checks: ReceiptCheck[] = [];
  private failure: ReceiptVerification | undefined;
  private started: Started | undefined;
  private outcome: ReceiptVerification | undefined;

  constructor(
    private readonly verifier: ReceiptVerifier,
    private readonly options: VerifyReceiptOptions,
    envelope: unknown,
    private readonly context: ReceiptContext,
  ) {
    this.guard(() => {
      this.started = this.start(envelope);
    });
  }

  /** The signature checks still needed; empty once every signature is decided (or verification failed). */
  questions(): SignatureQuestion[] {
    const attribution = this.started?.attribution;
    if (this.failure !== undefined || attribution === undefined) return [];
    return this.guard(() => attribution.questions()) ?? [];
  }

  answer(question: SignatureQuestion, verifies: boolean): void {
    this.started?.attribution?.answer(question, verifies);
  }

  /** Answers the remaining checks on this thread. */
  settle(): void {
    const attribution = this.started?.attribution;
    if (this.failure === undefined && attribution !== undefined) this.guard(() => attribution.settle());
  }

  /** The verification; any check not yet answered is answered on this thread. */
  result(): ReceiptVerification {
    if (this.outcome === undefined) {
      const started = this.failure === undefined ? this.started : undefined;
      const finished = started === undefined ? undefined : this.guard(() => this.finish(started));
      this.outcome = finished ?? this.failure ?? { ok: false, trustLevel: 'Untrusted', checks: this.checks };
    }
    return this.outcome;
  }

  /** An error inside a check is a refusal with a reason, never a pass. */
  private guard<T>(step: () => T): T | undefined {
    try {
      return step();
    } catch (error) {
      const detail = `check failed: ${error instanceof Error ? error.message : String(error)}`;
      this.failure = {
        ok: false,
        trustLevel: 'Untrusted',
        checks: [...this.checks, { name: 'verification', ok: false, detail }],
      };
      return undefined;
    }
  }

  private pass(name: ReceiptCheckName, detail: string): void {
    this.checks.push({ name, ok: true, detail });
  }

  private fail(name: ReceiptCheckName, detail: string): void {
    this.checks.push({ name, ok: false, detail });
  }

  private start(envelope: unknown): Started | undefined {
    const shape = checkEnvelope(envelope);
    if (!shape.ok) {
      this.fail('envelope', shape.reason);
      return undefined;
    }
    const { envelope: env, payload } = shape;
    this.pass('envelope', `DSSE envelope with ${env.signatures.length} signature(s)`);

    if (env.payloadType === IN_TOTO_PAYLOAD_TYPE) this.pass('payload-type', IN_TOTO_PAYLOAD_TYPE);
    else
      this.fail('payload-type', `expected ${IN_TOTO_PAYLOAD_TYPE}, got ${JSON.stringify(env.payloadType)}`);

    const read = readStatement(payload, this.options.allowUnknownPredicateTypes === true);
    if (read.ok) this.pass('statement', read.detail);
    else this.fail('statement', read.reason);
    const oacp = read.ok ? read.oacp : undefined;

    // Who signed: each signature must belong to an Airlock key or to the agent the statement names.
    const agentDid = oacp === undefined ? undefined : agentDidOf(oacp);
    const agentKey = agentDid === undefined ? undefined : this.verifier.agentKey(agentDid);
    const attribution = new SignatureAttribution(
      pae(env.payloadType, payload),
      env.signatures.map((entry) => Buffer.from(entry.sig, 'base64')),
      this.verifier.airlockKeys,
      agentKey,
    );
    return { envelope, env, read, oacp, agentDid, attribution };
  }

  private finish(started: Started): ReceiptVerification {
    const { env, read, oacp, agentDid } = started;
    const { airlockBy, agentSigned, unattributed } = started.attribution.settle();
    if (unattributed.length === 0)
      this.pass('signatures', `all ${env.signatures.length} signature(s) verify`);
    else {
      this.fail(
        'signatures',
        `signature(s) #${unattributed.join(', #')} verify under neither an Airlock key (${this.options.airlockKeys.length} given) nor the agent's did:key`,
      );
    }

    if (airlockBy !== undefined)
      this.pass('airlock-signature', `verified with Airlock key ${airlockBy.fingerprint}`);
    else this.pass('airlock-signature', 'absent: no signature from an Airlock key');

    if (this.options.expectedAgentDid !== undefined && agentDid !== this.options.expectedAgentDid) {
      this.fail(
        'agent-signature',
        `statement names agent ${agentDid ?? '(none)'}, expected ${this.options.expectedAgentDid}`,
      );
    } else if (agentSigned) this.pass('agent-signature', `verified with ${agentDid}`);
    else if (agentDid !== undefined) {
      this.pass(
        'agent-signature',
        `absent: the statement names ${agentDid} but only the Airlock vouches for it`,
      );
    } else this.pass('agent-signature', 'absent: the statement names no agent did:key');

    const tee = oacp === undefined ? { verified: false } : checkTee(oacp, this.options.teeVerifier);
    if (tee.check !== undefined) this.checks.push(tee.check);

    const ok = this.checks.every((check) => check.ok);
    const level = trustLevel({
      allChecksPassed: ok,
      airlockSigned: airlockBy !== undefined,
      agentSigned,
      teeVerified: tee.verified,
      witnessed: (this.context.witnessed ?? this.options.witnessed) === true,
    });
    return {
      ok,
      trustLevel: level,
      checks: this.checks,
      ...(read.ok ? { statement: read.statement } : {}),
      envelopeDigest: digestOf(started.envelope, env, this.context.canonical),
    };
  }
}

interface Started {
  readonly envelope: unknown;
  readonly env: Envelope;
  readonly read: StatementRead;
  readonly oacp: OacpStatement | undefined;
  readonly agentDid: string | undefined;
  readonly attribution: SignatureAttribution;
}

const ENVELOPE_MEMBERS = new Set(['payload', 'payloadType', 'signatures']);

/**
 * envelopeDigest of the parsed envelope. The caller's JCS bytes of the envelope
 * as given are the same bytes when it has no member beyond the three the schema
 * keeps (the parse drops any others), so they are hashed instead of made again.
 */
function digestOf(given: unknown, parsed: Envelope, canonical: Uint8Array | undefined): string {
  if (
    canonical !== undefined &&
    typeof given === 'object' &&
    given !== null &&
    Object.keys(given).every((key) => ENVELOPE_MEMBERS.has(key))
  ) {
    return sha256Hex(canonical);
  }
  return envelopeDigest(parsed);
}

type EnvelopeShape = { ok: true; envelope: Envelope; payload: Buffer } | { ok: false; reason: string };

function checkEnvelope(value: unknown): EnvelopeShape {
  // Counted before anything else reads them: each would cost a verification per candidate key.
  const count = signatureCount(value);
  if (count > MAX_ENVELOPE_SIGNATURES) {
    return {
      ok: false,
      reason: `the envelope carries ${count} signatures; a receipt may carry at most ${MAX_ENVELOPE_SIGNATURES}, so none was checked`,
    };
  }
  const parsed = EnvelopeSchema.safeParse(value);
  if (!parsed.success)
    return { ok: false, reason: `not a DSSE envelope: ${firstIssue(parsed.error, 'envelope')}` };
  const envelope = parsed.data;
  if (envelope.signatures.length === 0) return { ok: false, reason: 'the envelope carries no signatures' };
  const payload = envelopePayload(envelope);
  if (payload.toString('base64') !== envelope.payload) {
    return { ok: false, reason: 'payload is not canonical standard base64' };
  }
  return { ok: true, envelope, payload };
}

function signatureCount(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  const signatures = (value as { signatures?: unknown }).signatures;
  return Array.isArray(signatures) ? signatures.length : 0;
}

type StatementRead =
  | { ok: true; statement: Statement; oacp: OacpStatement | undefined; detail: string }
  | { ok: false; reason: string };

function readStatement(payload: Buffer, allowUnknown: boolean): StatementRead {
  let text: string;
  let json: unknown;
  try {
    // Not toString('utf8'), which would read invalid bytes as U+FFFD where a strict parser refuses them.
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
    if (jsonDepth(text) > MAX_RECEIPT_DEPTH)
      return { ok: false, reason: tooDeep('the payload', MAX_RECEIPT_DEPTH) };
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'payload is not UTF-8 JSON' };
  }
  const repeated = duplicateJsonKey(text);
  if (repeated !== undefined) return { ok: false, reason: duplicateKeyReason('the payload', repeated) };
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
