import { sha256Hex } from '../core/digest.js';
import type { Signer } from '../core/ed25519.js';
import { OacpError } from '../core/errors.js';
import { canonicalize } from '../core/jcs.js';
import { jcsOrderedCopy } from '../core/jcs-ordered.js';
import { didKeyFromPublicKey } from '../identity/did-key.js';
import { type Envelope, pae, parseEnvelope, signEnvelope } from './dsse.js';
import { type AttestErrorCode, firstIssue } from './errors.js';
import {
  EXECUTION_PREDICATE_TYPE,
  type ExecutionPredicateInput,
  ExecutionPredicateSchema,
  executionSubjects,
} from './execution.js';
import {
  MODEL_CALL_PREDICATE_TYPE,
  type ModelCallPredicateInput,
  ModelCallPredicateSchema,
  modelCallSubjects,
} from './model-call.js';
import {
  agentDidOf,
  type ExecutionStatement,
  type ModelCallStatement,
  type OacpStatement,
  readOacpStatement,
  type ToolCallStatement,
} from './oacp-statement.js';
import { IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_TYPE, StatementSchema } from './statement.js';
import {
  TOOL_CALL_PREDICATE_TYPE,
  type ToolCallPredicateInput,
  ToolCallPredicateSchema,
  toolCallSubjects,
} from './tool-call.js';

export type BuildStatementInput =
  | { readonly predicateType: typeof TOOL_CALL_PREDICATE_TYPE; readonly predicate: ToolCallPredicateInput }
  | { readonly predicateType: typeof EXECUTION_PREDICATE_TYPE; readonly predicate: ExecutionPredicateInput }
  | { readonly predicateType: typeof MODEL_CALL_PREDICATE_TYPE; readonly predicate: ModelCallPredicateInput };

/**
 * An in-toto Statement for one of OACP's predicates, checked strictly, with its
 * subjects derived from the predicate's digests (so they cannot disagree).
 */
export function buildStatement(input: {
  predicateType: typeof TOOL_CALL_PREDICATE_TYPE;
  predicate: ToolCallPredicateInput;
}): ToolCallStatement;
export function buildStatement(input: {
  predicateType: typeof EXECUTION_PREDICATE_TYPE;
  predicate: ExecutionPredicateInput;
}): ExecutionStatement;
export function buildStatement(input: {
  predicateType: typeof MODEL_CALL_PREDICATE_TYPE;
  predicate: ModelCallPredicateInput;
}): ModelCallStatement;
export function buildStatement(input: BuildStatementInput): OacpStatement;
export function buildStatement(input: BuildStatementInput): OacpStatement {
  if (input.predicateType === TOOL_CALL_PREDICATE_TYPE) {
    const parsed = ToolCallPredicateSchema.safeParse(input.predicate);
    if (!parsed.success) throw invalid(`tool-call predicate: ${firstIssue(parsed.error, 'predicate')}`);
    return sealBuilt({
      _type: IN_TOTO_STATEMENT_TYPE,
      subject: toolCallSubjects(parsed.data),
      predicateType: TOOL_CALL_PREDICATE_TYPE,
      predicate: parsed.data,
    });
  }
  if (input.predicateType === EXECUTION_PREDICATE_TYPE) {
    const parsed = ExecutionPredicateSchema.safeParse(input.predicate);
    if (!parsed.success) throw invalid(`execution predicate: ${firstIssue(parsed.error, 'predicate')}`);
    return sealBuilt({
      _type: IN_TOTO_STATEMENT_TYPE,
      subject: executionSubjects(parsed.data),
      predicateType: EXECUTION_PREDICATE_TYPE,
      predicate: parsed.data,
    });
  }
  if (input.predicateType === MODEL_CALL_PREDICATE_TYPE) {
    const parsed = ModelCallPredicateSchema.safeParse(input.predicate);
    if (!parsed.success) throw invalid(`model-call predicate: ${firstIssue(parsed.error, 'predicate')}`);
    return sealBuilt({
      _type: IN_TOTO_STATEMENT_TYPE,
      subject: modelCallSubjects(parsed.data),
      predicateType: MODEL_CALL_PREDICATE_TYPE,
      predicate: parsed.data,
    });
  }
  const unknownType: unknown = (input as { predicateType: unknown }).predicateType;
  throw new OacpError<AttestErrorCode>(
    'ATTEST_UNKNOWN_PREDICATE',
    `cannot build a statement for predicate type ${JSON.stringify(unknownType)}: OACP builds only ${TOOL_CALL_PREDICATE_TYPE}, ${EXECUTION_PREDICATE_TYPE} and ${MODEL_CALL_PREDICATE_TYPE}`,
  );
}

/** The statement's payload bytes: its JCS form, so equal statements sign and digest identically. */
export function statementBytes(statement: OacpStatement): Buffer {
  // A statement from buildStatement is already a tree in JCS member order (jcsOrderedCopy):
  // the native writer gives its JCS form (a property test holds the two equal).
  const text = builtMark(statement) === 'ordered' ? JSON.stringify(statement) : canonicalize(statement);
  return Buffer.from(text, 'utf8');
}

export interface ReceiptSigners {
  readonly airlock?: Signer;
  readonly agent?: Signer;
}

/** A signer that may answer later, e.g. a pool of signing threads; its signatures are Ed25519 like any Signer's. */
export interface AsyncSigner {
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

export interface AsyncReceiptSigners {
  readonly airlock?: AsyncSigner;
  readonly agent?: AsyncSigner;
}

/**
 * A DSSE envelope over the statement with one signature per signer (agent first,
 * then Airlock), `keyid` empty: verifiers identify keys out of band. An agent
 * signer must be the key the statement names, or no verifier could credit it.
 */
export function signReceipt(statement: OacpStatement, signers: ReceiptSigners): Envelope {
  const { payload, list } = checkedForSigning(statement, signers);
  return signEnvelope(IN_TOTO_PAYLOAD_TYPE, payload, list);
}

/** A signed receipt and the exact bytes the log holds for it. */
export interface SignedReceipt {
  readonly envelope: Envelope;
  /** Equal to `envelopeBytes(envelope)`. */
  readonly bytes: Buffer;
}

/**
 * signReceipt for signers that answer asynchronously: the same checks, the same
 * bytes, the same signature order; only the signing may happen on other threads.
 */
export async function signReceiptAsync(
  statement: OacpStatement,
  signers: AsyncReceiptSigners,
): Promise<SignedReceipt> {
  const { payload, list } = checkedForSigning(statement, signers);
  const message = pae(IN_TOTO_PAYLOAD_TYPE, payload);
  const signatures = await Promise.all(list.map((signer) => signer.sign(message)));
  const envelope: Envelope = {
    payload: payload.toString('base64'),
    payloadType: IN_TOTO_PAYLOAD_TYPE,
    signatures: signatures.map((sig) => ({ keyid: '', sig: Buffer.from(sig).toString('base64') })),
  };
  // The JCS of this fixed shape, written out: every value is base64 or a constant, nothing to
  // escape, members already in code-unit order. A test holds it equal to envelopeBytes.
  const sigs = envelope.signatures.map((entry) => `{"keyid":"","sig":"${entry.sig}"}`).join(',');
  const json = `{"payload":"${envelope.payload}","payloadType":${PAYLOAD_TYPE_JSON},"signatures":[${sigs}]}`;
  return { envelope, bytes: Buffer.from(json, 'utf8') };
}

const PAYLOAD_TYPE_JSON = JSON.stringify(IN_TOTO_PAYLOAD_TYPE);

/** The statement's payload bytes and its signers in signing order, after every check signing needs. */
function checkedForSigning<S extends AsyncSigner>(
  statement: OacpStatement,
  signers: { readonly airlock?: S; readonly agent?: S },
): { payload: Buffer; list: S[] } {
  const checkedStatement = builtMark(statement) === undefined ? recheck(statement) : statement;
  const list: S[] = [];
  if (signers.agent !== undefined) {
    const named = agentDidOf(checkedStatement);
    const actual = didKeyFromPublicKey(signers.agent.publicKey);
    if (named !== actual) {
      throw new OacpError<AttestErrorCode>(
        'ATTEST_SIGNER_MISMATCH',
        `cannot sign as agent ${actual}: the statement names ${named ?? 'no agent did:key'}`,
      );
    }
    list.push(signers.agent);
  }
  if (signers.airlock !== undefined) list.push(signers.airlock);
  if (list.length === 0) {
    throw new OacpError<AttestErrorCode>(
      'ATTEST_NO_SIGNER',
      'cannot sign a receipt without an Airlock or agent signer',
    );
  }
  return { payload: statementBytes(checkedStatement), list };
}

/** Full checks for a statement that did not come from buildStatement (copied, altered or hand-made). */
function recheck(statement: OacpStatement): OacpStatement {
  const checked = StatementSchema.safeParse(statement);
  if (!checked.success) throw invalid(firstIssue(checked.error, 'statement'));
  const read = readOacpStatement(checked.data);
  if (!read.ok) throw invalid(read.reason);
  return read.statement;
}

/**
 * Marks what buildStatement returns: checked strictly, then copied into a deep-frozen tree so it
 * cannot change before it is signed. A copy or an edited statement loses the mark and is checked
 * again; the mark saves only the repeat of checks already passed. (Code that could forge it could
 * call signEnvelope directly anyway.) `ordered`: the tree's members are in JCS order, so its JCS
 * form is JSON.stringify's (jcsOrderedCopy); `frozen`: a statement that copy refuses, frozen as it is.
 */
const BUILT = Symbol('oacp.builtStatement');

type BuiltMark = 'ordered' | 'frozen';

function sealBuilt<T extends OacpStatement>(statement: T): T {
  const ordered = jcsOrderedCopy(statement);
  // The copy comes frozen: its root is copied once more (four members) to carry the mark.
  const root = ordered === undefined ? deepFreezeMembers(statement) : { ...ordered };
  Object.defineProperty(root, BUILT, { value: ordered === undefined ? 'frozen' : 'ordered' });
  return Object.freeze(root);
}

function builtMark(statement: OacpStatement): BuiltMark | undefined {
  if (!Object.isFrozen(statement)) return undefined;
  const mark = (statement as { [BUILT]?: unknown })[BUILT];
  return mark === 'ordered' || mark === 'frozen' ? mark : undefined;
}

/** Freezes everything below `value`, not `value` itself. zod's output for our strict schemas is a fresh tree: no cycles, nothing shared. */
function deepFreezeMembers<T extends object>(value: T): T {
  for (const inner of Object.values(value)) {
    if (typeof inner === 'object' && inner !== null) Object.freeze(deepFreezeMembers(inner));
  }
  return value;
}

/** The exact bytes that get logged: the JCS form of the envelope. */
export function envelopeBytes(envelope: Envelope): Buffer {
  return Buffer.from(canonicalize(envelope), 'utf8');
}

/** sha256 (hex) of `envelopeBytes`: how an execution receipt refers to a tool-call receipt. */
export function envelopeDigest(envelope: Envelope): string {
  return sha256Hex(envelopeBytes(envelope));
}

/** Reads logged bytes back into an envelope (shape only; verify with verifyReceiptEnvelope). */
export function parseEnvelopeBytes(bytes: Uint8Array): Envelope {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new OacpError<AttestErrorCode>('ATTEST_ENVELOPE_INVALID', 'receipt bytes are not JSON');
  }
  try {
    return parseEnvelope(json);
  } catch (error) {
    throw new OacpError<AttestErrorCode>('ATTEST_ENVELOPE_INVALID', (error as Error).message);
  }
}

function invalid(reason: string): OacpError<AttestErrorCode> {
  return new OacpError('ATTEST_STATEMENT_INVALID', `cannot build a receipt: ${reason}`);
}
