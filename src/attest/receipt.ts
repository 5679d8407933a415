import { sha256Hex } from '../core/digest.js';
import type { Signer } from '../core/ed25519.js';
import { OacpError } from '../core/errors.js';
import { canonicalize } from '../core/jcs.js';
import { didKeyFromPublicKey } from '../identity/did-key.js';
import { type Envelope, parseEnvelope, signEnvelope } from './dsse.js';
import { type AttestErrorCode, firstIssue } from './errors.js';
import {
  EXECUTION_PREDICATE_TYPE,
  type ExecutionPredicateInput,
  ExecutionPredicateSchema,
  executionSubjects,
} from './execution.js';
import {
  agentDidOf,
  type ExecutionStatement,
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
  | { readonly predicateType: typeof EXECUTION_PREDICATE_TYPE; readonly predicate: ExecutionPredicateInput };

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
export function buildStatement(input: BuildStatementInput): OacpStatement;
export function buildStatement(input: BuildStatementInput): OacpStatement {
  if (input.predicateType === TOOL_CALL_PREDICATE_TYPE) {
    const parsed = ToolCallPredicateSchema.safeParse(input.predicate);
    if (!parsed.success) throw invalid(`tool-call predicate: ${firstIssue(parsed.error, 'predicate')}`);
    return {
      _type: IN_TOTO_STATEMENT_TYPE,
      subject: toolCallSubjects(parsed.data),
      predicateType: TOOL_CALL_PREDICATE_TYPE,
      predicate: parsed.data,
    };
  }
  if (input.predicateType === EXECUTION_PREDICATE_TYPE) {
    const parsed = ExecutionPredicateSchema.safeParse(input.predicate);
    if (!parsed.success) throw invalid(`execution predicate: ${firstIssue(parsed.error, 'predicate')}`);
    return {
      _type: IN_TOTO_STATEMENT_TYPE,
      subject: executionSubjects(parsed.data),
      predicateType: EXECUTION_PREDICATE_TYPE,
      predicate: parsed.data,
    };
  }
  const unknownType: unknown = (input as { predicateType: unknown }).predicateType;
  throw new OacpError<AttestErrorCode>(
    'ATTEST_UNKNOWN_PREDICATE',
    `cannot build a statement for predicate type ${JSON.stringify(unknownType)}: OACP builds only ${TOOL_CALL_PREDICATE_TYPE} and ${EXECUTION_PREDICATE_TYPE}`,
  );
}

/** The statement's payload bytes: its JCS form, so equal statements sign and digest identically. */
export function statementBytes(statement: OacpStatement): Buffer {
  return Buffer.from(canonicalize(statement), 'utf8');
}

export interface ReceiptSigners {
  readonly airlock?: Signer;
  readonly agent?: Signer;
}

/**
 * A DSSE envelope over the statement with one signature per signer (agent first,
 * then Airlock), `keyid` empty: verifiers identify keys out of band. An agent
 * signer must be the key the statement names, or no verifier could credit it.
 */
export function signReceipt(statement: OacpStatement, signers: ReceiptSigners): Envelope {
  const checked = StatementSchema.safeParse(statement);
  if (!checked.success) throw invalid(firstIssue(checked.error, 'statement'));
  const read = readOacpStatement(checked.data);
  if (!read.ok) throw invalid(read.reason);
  const list: Signer[] = [];
  if (signers.agent !== undefined) {
    const named = agentDidOf(read.statement);
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
  return signEnvelope(IN_TOTO_PAYLOAD_TYPE, statementBytes(read.statement), list);
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
