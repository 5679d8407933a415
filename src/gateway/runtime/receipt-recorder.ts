import { EXECUTION_PREDICATE_TYPE, type ExecutionPredicateInput } from '../../attest/execution.js';
import { MODEL_CALL_PREDICATE_TYPE, type ModelCallPredicateInput } from '../../attest/model-call.js';
import type { OacpStatement } from '../../attest/oacp-statement.js';
import { buildStatement } from '../../attest/receipt.js';
import { TOOL_CALL_PREDICATE_TYPE } from '../../attest/tool-call.js';
import { sha256Hex } from '../../core/digest.js';
import type { Signer } from '../../core/ed25519.js';
import type { SecretValues } from '../../core/secret-values.js';
import type { AppendAck } from '../../log/transparency-log.js';
import { ReceiptSlot } from '../../mcp/receipt-slot.js';
import { type ReceiptAck, toolCallPredicate } from '../../mcp/receipts.js';
import type { ToolCallRecord } from '../../mcp/record.js';
import type { IntentJournal } from '../../node/intent-journal.js';
import type { GatewayMetrics } from '../observability/gateway-metrics.js';

/** The longest free texts the predicates take (attest/execution.ts, attest/model-call.ts). */
const MAX_EXECUTION_REASON = 4096;
const MAX_MODEL_REASON = 1024;
const MAX_ATTEMPT_ERROR = 512;

/** Where a receipt is: its log index, the digest of its logged bytes, and the log's origin. */
export interface ReceiptLink {
  readonly index: number;
  readonly envelopeDigest: string;
  readonly log: string;
}

/** Signs and logs a statement (OacpNode is one). */
export interface ReceiptNode {
  readonly origin: string;
  /**
   * `written`: called once the receipt's bytes are written to the OS, before the fsync; `ack`:
   * resolve after the fsync (`durable`, the default) or once written (TransparencyLog.append).
   */
  record(
    statement: OacpStatement,
    agent?: Signer,
    written?: () => void,
    ack?: AppendAck,
  ): Promise<{ readonly index: number; readonly bytes: Uint8Array }>;
  /** Where a side effect's `interrupted` receipt waits for its real one (OacpNode.intents). */
  intents?(): Pick<IntentJournal, 'write' | 'done'>;
}

/**
 * The one receipt path of the gateway: native tool calls use the bridge's own
 * tool-call predicate builder (so a native call and a bridged call produce the
 * same kind of receipt), agent runs the execution predicate. A receipt is in
 * the log (fsynced) before the caller is answered, or, for a model call with
 * `models.receipt_ack: queued`, written to the OS.
 */
export class ReceiptRecorder {
  constructor(
    private readonly node: ReceiptNode,
    private readonly metrics: GatewayMetrics,
    /** Whether the log can take the next receipt; checked before a tool runs (reserve). */
    readonly slot: ReceiptSlot = new ReceiptSlot(),
    /** The gateway's live secret values (what the vault handed out, the master key): masked in every reason a receipt keeps. */
    private readonly secrets?: SecretValues,
  ) {}

  /** `text` with the live secret values masked, cut to `max` (a masked value can be longer than the value). */
  private readonly mask = (text: string, max = Number.POSITIVE_INFINITY): string =>
    this.secrets === undefined ? text : this.secrets.mask(text).slice(0, max);

  private maskedExecution(predicate: ExecutionPredicateInput): ExecutionPredicateInput {
    return predicate.reason === undefined
      ? predicate
      : { ...predicate, reason: this.mask(predicate.reason, MAX_EXECUTION_REASON) };
  }

  private maskedModelCall(predicate: ModelCallPredicateInput): ModelCallPredicateInput {
    return {
      ...predicate,
      ...(predicate.reason === undefined ? {} : { reason: this.mask(predicate.reason, MAX_MODEL_REASON) }),
      attempts: predicate.attempts.map((attempt) =>
        attempt.error === undefined
          ? attempt
          : { ...attempt, error: this.mask(attempt.error, MAX_ATTEMPT_ERROR) },
      ),
    };
  }

  /** Throws (MCP_RECEIPT_UNAVAILABLE) when no receipt could be written now: run nothing then. */
  reserve(): void {
    this.slot.check();
  }

  get origin(): string {
    return this.node.origin;
  }

  async toolCall(record: ToolCallRecord, agentName: string, coSigner?: Signer): Promise<ReceiptLink> {
    const statement = buildStatement({
      predicateType: TOOL_CALL_PREDICATE_TYPE,
      predicate: toolCallPredicate(record, this.mask),
    });
    return this.write(statement, agentName, coSigner, record.callId);
  }

  /**
   * Right before a tool runs: keeps `record` (outcome `interrupted`) as the receipt the call gets if
   * this process is killed before toolCall records the real one. Throws when it cannot: run nothing then.
   */
  intendToolCall(record: ToolCallRecord): void {
    this.node.intents?.().write(record.callId, {
      predicateType: TOOL_CALL_PREDICATE_TYPE,
      predicate: toolCallPredicate(record, this.mask),
    });
  }

  /** Records an execution; `intent` names the intent (intendExecution) this receipt settles. */
  async execution(
    predicate: ExecutionPredicateInput,
    agentName: string,
    coSigner?: Signer,
    intent?: string,
  ): Promise<ReceiptLink> {
    const statement = buildStatement({
      predicateType: EXECUTION_PREDICATE_TYPE,
      predicate: this.maskedExecution(predicate),
    });
    return this.write(statement, agentName, coSigner, intent);
  }

  /** Right before a run starts: its receipt if this process is killed before `execution` records the real one. */
  intendExecution(intent: string, predicate: ExecutionPredicateInput): void {
    this.node.intents?.().write(intent, {
      predicateType: EXECUTION_PREDICATE_TYPE,
      predicate: this.maskedExecution(predicate),
    });
  }

  /**
   * Records a model call; `intent` names the intent (intendModelCall) this receipt settles.
   * `ack` `queued` (`models.receipt_ack`) resolves once the receipt is written to the OS, the
   * way the bridge's `--receipt-ack queued` does (mcp/receipts.ts ReceiptAck): a failed write
   * closes the slot, so later calls are refused before anything is sent (reserve).
   */
  async modelCall(
    predicate: ModelCallPredicateInput,
    agentName: string,
    coSigner?: Signer,
    intent?: string,
    ack: ReceiptAck = 'durable',
  ): Promise<ReceiptLink> {
    const statement = buildStatement({
      predicateType: MODEL_CALL_PREDICATE_TYPE,
      predicate: this.maskedModelCall(predicate),
    });
    return this.write(statement, agentName, coSigner, intent, ack === 'queued' ? 'written' : 'durable');
  }

  /** Right before a provider gets a call: its receipt if this process is killed before `modelCall` records the real one. */
  intendModelCall(intent: string, predicate: ModelCallPredicateInput): void {
    this.node.intents?.().write(intent, {
      predicateType: MODEL_CALL_PREDICATE_TYPE,
      predicate: this.maskedModelCall(predicate),
    });
  }

  /**
   * Appends `statement`; `intent` (an IntentJournal id) is marked done once the receipt's bytes
   * reach the OS, so a kill after that leaves no pending intent to become a second receipt.
   */
  private async write(
    statement: OacpStatement,
    agentName: string,
    coSigner?: Signer,
    intent?: string,
    ack: AppendAck = 'durable',
  ): Promise<ReceiptLink> {
    const settle = intent === undefined ? undefined : () => this.node.intents?.().done(intent);
    const { index, bytes } = await this.slot.track(this.node.record(statement, coSigner, settle, ack));
    settle?.();
    this.metrics.attestations.inc({ agent: agentName });
    return { index, envelopeDigest: sha256Hex(bytes), log: this.node.origin };
  }
}
