// The attestation layer's public face: DSSE, in-toto statements, OACP receipts and their verification.
export {
  addSignature,
  type Envelope,
  EnvelopeSchema,
  envelopePayload,
  pae,
  parseEnvelope,
  signaturesBy,
  signEnvelope,
} from './dsse.js';
export type { AttestErrorCode } from './errors.js';
export {
  EXECUTION_PREDICATE_TYPE,
  type ExecutionPredicate,
  type ExecutionPredicateInput,
  ExecutionPredicateSchema,
  executionSubjects,
  type ReceiptReference,
  ReceiptReferenceSchema,
} from './execution.js';
export {
  agentDidOf,
  type ExecutionStatement,
  isOacpPredicateType,
  OACP_PREDICATE_TYPES,
  type OacpStatement,
  readOacpStatement,
  type ToolCallStatement,
} from './oacp-statement.js';
export {
  AgentRefSchema,
  ApprovalSchema,
  PolicyDecisionSchema,
  TierSchema,
  UsageSchema,
} from './predicate-parts.js';
export {
  type BuildStatementInput,
  buildStatement,
  envelopeBytes,
  envelopeDigest,
  parseEnvelopeBytes,
  type ReceiptSigners,
  signReceipt,
  statementBytes,
} from './receipt.js';
export {
  IN_TOTO_PAYLOAD_TYPE,
  IN_TOTO_STATEMENT_TYPE,
  ResourceDescriptorSchema,
  Sha256HexSchema,
  type Statement,
  StatementSchema,
  type Subject,
  SubjectSchema,
} from './statement.js';
export {
  MIN_QUOTE_BYTES,
  quoteProblem,
  type TeeEvidence,
  TeeEvidenceSchema,
  type TeePlatform,
  TeePlatformSchema,
  type TeeQuoteVerifier,
  teeBinding,
} from './tee.js';
export {
  TOOL_CALL_PREDICATE_TYPE,
  type ToolCallPredicate,
  type ToolCallPredicateInput,
  ToolCallPredicateSchema,
  toolCallSubjects,
} from './tool-call.js';
export {
  meetsTrustLevel,
  TRUST_LEVELS,
  type TrustEvidence,
  type TrustLevel,
  trustLevel,
} from './trust-level.js';
export {
  type ReceiptCheck,
  type ReceiptCheckName,
  type ReceiptVerification,
  type VerifyReceiptOptions,
  verifyReceiptEnvelope,
} from './verify-receipt.js';
