import { canonicalize } from '../core/jcs.js';
import { firstIssue } from './errors.js';
import {
  EXECUTION_PREDICATE_TYPE,
  type ExecutionPredicate,
  ExecutionPredicateSchema,
  executionSubjects,
} from './execution.js';
import {
  MODEL_CALL_PREDICATE_TYPE,
  type ModelCallPredicate,
  ModelCallPredicateSchema,
  modelCallSubjects,
} from './model-call.js';
import { IN_TOTO_STATEMENT_TYPE, type Subject } from './statement.js';
import {
  TOOL_CALL_PREDICATE_TYPE,
  type ToolCallPredicate,
  ToolCallPredicateSchema,
  toolCallSubjects,
} from './tool-call.js';

interface StatementOf<T extends string, P> {
  readonly _type: typeof IN_TOTO_STATEMENT_TYPE;
  readonly subject: Subject[];
  readonly predicateType: T;
  readonly predicate: P;
}

export type ToolCallStatement = StatementOf<typeof TOOL_CALL_PREDICATE_TYPE, ToolCallPredicate>;
export type ExecutionStatement = StatementOf<typeof EXECUTION_PREDICATE_TYPE, ExecutionPredicate>;
export type ModelCallStatement = StatementOf<typeof MODEL_CALL_PREDICATE_TYPE, ModelCallPredicate>;
/** A statement whose predicate OACP defines and checks strictly. */
export type OacpStatement = ToolCallStatement | ExecutionStatement | ModelCallStatement;

export const OACP_PREDICATE_TYPES = [
  TOOL_CALL_PREDICATE_TYPE,
  EXECUTION_PREDICATE_TYPE,
  MODEL_CALL_PREDICATE_TYPE,
] as const;

export function isOacpPredicateType(predicateType: string): boolean {
  return (OACP_PREDICATE_TYPES as readonly string[]).includes(predicateType);
}

export type OacpStatementResult =
  | { readonly ok: true; readonly statement: OacpStatement }
  | { readonly ok: false; readonly reason: string };

/**
 * Strict reading of an OACP predicate: unknown fields are refused (this is our
 * format, an extra field means a different producer or a forgery), and the
 * subjects must be exactly those the predicate implies.
 */
export function readOacpStatement(statement: {
  readonly subject: readonly Subject[];
  readonly predicateType: string;
  readonly predicate?: unknown;
}): OacpStatementResult {
  let typed: OacpStatement;
  let expected: Subject[];
  if (statement.predicateType === TOOL_CALL_PREDICATE_TYPE) {
    const parsed = ToolCallPredicateSchema.safeParse(statement.predicate);
    if (!parsed.success)
      return { ok: false, reason: `tool-call predicate: ${firstIssue(parsed.error, 'predicate')}` };
    typed = oacpStatement(TOOL_CALL_PREDICATE_TYPE, statement.subject, parsed.data);
    expected = toolCallSubjects(parsed.data);
  } else if (statement.predicateType === EXECUTION_PREDICATE_TYPE) {
    const parsed = ExecutionPredicateSchema.safeParse(statement.predicate);
    if (!parsed.success)
      return { ok: false, reason: `execution predicate: ${firstIssue(parsed.error, 'predicate')}` };
    typed = oacpStatement(EXECUTION_PREDICATE_TYPE, statement.subject, parsed.data);
    expected = executionSubjects(parsed.data);
  } else if (statement.predicateType === MODEL_CALL_PREDICATE_TYPE) {
    const parsed = ModelCallPredicateSchema.safeParse(statement.predicate);
    if (!parsed.success)
      return { ok: false, reason: `model-call predicate: ${firstIssue(parsed.error, 'predicate')}` };
    typed = oacpStatement(MODEL_CALL_PREDICATE_TYPE, statement.subject, parsed.data);
    expected = modelCallSubjects(parsed.data);
  } else {
    return {
      ok: false,
      reason: `predicate type ${JSON.stringify(statement.predicateType)} is not an OACP type`,
    };
  }
  if (canonicalize(statement.subject) !== canonicalize(expected)) {
    return { ok: false, reason: 'subjects do not match the digests in the predicate' };
  }
  return { ok: true, statement: typed };
}

function oacpStatement<T extends OacpStatement['predicateType'], P>(
  predicateType: T,
  subject: readonly Subject[],
  predicate: P,
): StatementOf<T, P> {
  return { _type: IN_TOTO_STATEMENT_TYPE, subject: [...subject], predicateType, predicate };
}

/** The agent's did:key named inside the statement, whose signature the verifier looks for. */
export function agentDidOf(statement: OacpStatement): string | undefined {
  return statement.predicate.agent?.did;
}
