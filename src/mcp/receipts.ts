import { NO_USAGE } from '../airlock/sandbox.js';
import type { OacpStatement } from '../attest/oacp-statement.js';
import { type AsyncSigner, buildStatement, signReceiptAsync } from '../attest/receipt.js';
import { TOOL_CALL_PREDICATE_TYPE, type ToolCallPredicateInput } from '../attest/tool-call.js';
import { boundedName, clipText } from '../core/clip-text.js';
import type { Signer } from '../core/ed25519.js';
import { OacpError } from '../core/errors.js';
import { jcsDigest } from '../core/jcs.js';
import { redactText } from '../core/redact.js';
import type { SecretValues } from '../core/secret-values.js';
import { didKeyFromPublicKey, isDidKey } from '../identity/did-key.js';
import type { TransparencyLog } from '../log/transparency-log.js';
import type { IntentJournal } from '../node/intent-journal.js';
import { MAX_TOOL_NAME } from './call-shape.js';
import type { McpErrorCode } from './errors.js';
import { ReceiptSlot, refusedBeforeWriting } from './receipt-slot.js';
import type { ReceiptRef, ReceiptSink, ToolCallRecord } from './record.js';

/** Signs a statement and makes it durable; `OacpNode` is one. */
export interface ReceiptWriter {
  /** `written`: called once the receipt's bytes are written to the OS, before the fsync (where its intent is marked done). */
  record(statement: OacpStatement, agent?: Signer, written?: () => void): Promise<{ readonly index: number }>;
  /** Throws when the next record could not be appended (see ReceiptSink.reserve). */
  reserve?(): void;
}

/**
 * When the client is answered relative to the receipt reaching disk.
 * - `durable` (default): after the log has fsynced the receipt.
 * - `queued`: once the receipt is written to the OS (write(2) returned, under
 *   the home's sequencer lock, so its index is final), before the fsync. It
 *   survives a crash of any process; only a power cut in the few milliseconds
 *   before the fsync can lose receipts of calls already answered. A failed
 *   write or fsync stops the writer, so every later call fails closed.
 */
export type ReceiptAck = 'durable' | 'queued';

/** A writer that can also report when everything it accepted is durable. */
export interface LogReceiptWriter extends ReceiptWriter {
  /** Resolves when every receipt accepted so far is in the log; rejects if one failed. */
  settled(): Promise<void>;
}

/**
 * A writer over a transparency log and an Airlock key, signing with the one
 * receipt builder (signReceiptAsync). `reserve()` says before a call is
 * forwarded whether its receipt could be appended: not after a failed append
 * (until one succeeds again), nor when `dir`'s filesystem is nearly full.
 */
export function logReceiptWriter(
  log: Pick<TransparencyLog, 'append'>,
  airlock: AsyncSigner,
  options: { ack?: ReceiptAck; dir?: string; minFreeBytes?: number } = {},
): LogReceiptWriter {
  const ack = options.ack ?? 'durable';
  const slot = new ReceiptSlot({
    ...(options.dir === undefined ? {} : { dir: options.dir }),
    ...(options.minFreeBytes === undefined ? {} : { minFreeBytes: options.minFreeBytes }),
  });
  /** queued mode: a failed write stops the writer for good. */
  let failure: Error | undefined;
  let pending: Promise<unknown> = Promise.resolve();
  return {
    reserve() {
      if (failure !== undefined) {
        throw new OacpError<McpErrorCode>(
          'MCP_RECEIPT_UNAVAILABLE',
          `the receipt log cannot append: the last receipt could not be appended (${failure.message})`,
        );
      }
      slot.check();
    },
    async record(statement, agent, onWritten) {
      if (failure !== undefined) throw failure;
      // The one receipt builder (attest/receipt.ts): the same checks, bytes and signature order as OacpNode.
      const { bytes } = await signReceiptAsync(
        statement,
        agent === undefined ? { airlock } : { airlock, agent },
      );
      if (failure !== undefined) throw failure;
      const hook = onWritten === undefined ? {} : { written: () => onWritten() };
      if (ack === 'durable') return slot.track(log.append(bytes, hook));
      // The index comes from the log, written under its lock: never promised ahead of the write.
      const written = slot.track(log.append(bytes, { ack: 'written', ...hook }));
      const checked = written.catch((error: unknown) => {
        if (!refusedBeforeWriting(error)) failure = error instanceof Error ? error : new Error(String(error));
      });
      pending = Promise.all([pending, checked]);
      return written;
    },
    async settled() {
      await pending;
      if (failure !== undefined) throw failure;
    },
  };
}

export interface AttestedReceiptsOptions {
  readonly writer: ReceiptWriter;
  /** The log's origin, given to clients in `_meta` so they know which log to check. */
  readonly origin: string;
  /** Co-signs receipts of calls made as this agent (`--attest-level standard`). */
  readonly agentSigner?: Signer;
  /** Where a receipt can be fetched, e.g. `/oacp/receipts/<index>` on the bridge's HTTP listener. */
  readonly receiptPath?: (index: number) => string;
  /** Keeps each forwarded call's `interrupted` receipt until its real one is durable (OacpNode.intents). */
  readonly journal?: () => Pick<IntentJournal, 'write' | 'done'>;
  /** The live secret values (what the servers were handed, the master key): masked in the reasons a receipt keeps. */
  readonly secrets?: SecretValues;
}

/**
 * Receipts as OACP defines them: an in-toto statement with the tool-call
 * predicate, in a DSSE envelope signed by the Airlock (and by the agent when
 * its key is at hand and the call was made as it), appended to the log
 * before the client is answered.
 */
export class AttestedReceipts implements ReceiptSink {
  readonly #options: AttestedReceiptsOptions;
  readonly #agentDid: string | undefined;
  readonly #mask: (text: string) => string;

  constructor(options: AttestedReceiptsOptions) {
    this.#options = options;
    const secrets = options.secrets;
    this.#mask = secrets === undefined ? (text) => text : (text) => secrets.mask(text);
    this.#agentDid =
      options.agentSigner === undefined ? undefined : didKeyFromPublicKey(options.agentSigner.publicKey);
  }

  reserve(): void {
    this.#options.writer.reserve?.();
  }

  intend(call: ToolCallRecord): void {
    const journal = this.#options.journal;
    if (journal === undefined) return;
    journal().write(call.callId, {
      predicateType: TOOL_CALL_PREDICATE_TYPE,
      predicate: toolCallPredicate(call, this.#mask),
    });
  }

  async record(call: ToolCallRecord): Promise<ReceiptRef> {
    const statement = buildStatement({
      predicateType: TOOL_CALL_PREDICATE_TYPE,
      predicate: toolCallPredicate(call, this.#mask),
    });
    const coSign =
      this.#agentDid !== undefined && this.#agentDid === call.agent ? this.#options.agentSigner : undefined;
    const journal = this.#options.journal;
    // The intent is void once the receipt's bytes reach the OS: marked then, not a turn of the
    // event loop after the fsync, so a kill in between cannot leave the call a second receipt.
    const settle = journal === undefined ? undefined : () => journal().done(call.callId);
    const { index } = await this.#options.writer.record(statement, coSign, settle);
    settle?.();
    const path = this.#options.receiptPath?.(index);
    return path === undefined
      ? { index, log: this.#options.origin }
      : { index, log: this.#options.origin, path };
  }
}

/** Longest decision reason a tool-call receipt keeps (UTF-16 units); longer ones are cut. */
export const MAX_RECORDED_REASON = 2048;

/**
 * The tool-call predicate (docs/receipts.md) for one finished call; `mask` hides live secret
 * values (SecretValues) in its free-text reasons.
 */
export function toolCallPredicate(
  call: ToolCallRecord,
  mask: (text: string) => string = (text) => text,
): ToolCallPredicateInput {
  const finishedAt = new Date(Date.parse(call.startedAt) + call.durationMs).toISOString();
  const policyIds = call.checks.policy?.policyIds ?? [];
  const gateId = gateDecidedBy(call);
  const policyId = gateId ?? policyIds[0];
  const approval = call.checks.approval;
  const resultDigest =
    call.decision.effect === 'deny'
      ? undefined
      : (call.resultDigest ??
        (call.error === undefined || call.outcome !== 'error'
          ? undefined
          : jcsDigest({ error: call.error })));
  // The prefix test first: isDidKey parses (and throws internally) on anything else.
  const did = call.agent.startsWith('did:key:') && isDidKey(call.agent) ? call.agent : undefined;
  // The optional members are assigned, not spread in (`...(x === undefined ? {} : { x })`): the
  // predicate is built twice per forwarded call (intent, receipt), and V8 takes its slow path for
  // spreads of literals (~3 µs a call in perf). Member order is free: the receipt is in JCS form.
  const agent: { did?: string; clientId?: string } = {};
  if (did !== undefined) {
    agent.did = did;
    if (call.client !== undefined) agent.clientId = `client:${call.client.name}`;
  } else agent.clientId = call.agent;
  const policy: ToolCallPredicateInput['policy'] = {
    effect: call.decision.effect,
    reason: clipText(mask(redactText(call.decision.reason)), MAX_RECORDED_REASON),
    policyDigest: call.policyDigest,
  };
  if (policyId !== undefined) policy.policyId = policyId;
  if (gateId === undefined && policyIds.length > 0) policy.policyIds = [...policyIds];
  const predicate: ToolCallPredicateInput = {
    agent,
    server: {
      name: call.server.name,
      command:
        call.server.url !== undefined
          ? [call.server.url]
          : [call.server.command ?? '', ...(call.server.args ?? [])],
      files: [call.server.executable, call.server.script, call.server.package, call.server.tree]
        .filter((file) => file !== undefined)
        .map((file) => ({ path: file.path, sha256: file.sha256 })),
    },
    // Both may hold a method or name the server or client chose (`server-request:<method>`): bounded,
    // so that no receipt outgrows a log entry (docs/receipts.md).
    tool: { name: boundedName(call.tool, MAX_TOOL_NAME), definitionDigest: call.toolDefinitionDigest },
    argumentsDigest: call.argumentsDigest,
    outcome: call.outcome,
    policy,
    // A remote server runs outside any Airlock: no isolation, which is what `light` records.
    tier:
      call.tier === 'light' || call.tier === 'standard' || call.tier === 'hardened' || call.tier === 'gvisor'
        ? call.tier
        : 'light',
    usage: call.usage ?? NO_USAGE,
    startedAt: call.startedAt,
    finishedAt,
    durationMs: call.durationMs,
  };
  if (resultDigest !== undefined) predicate.resultDigest = resultDigest;
  if (call.forwarded !== undefined) predicate.forwarded = call.forwarded;
  if (call.delivered === false) predicate.delivered = false;
  if (approval?.approved === true) {
    predicate.approval = {
      approvedBy: approval.by,
      approvedAt: approval.at,
      method: approval.method,
      reason: mask(approval.reason).slice(0, 600),
    };
  }
  return predicate;
}

/** Non-Cedar refusals get a reserved id naming the check, so a receipt says which gate said no. */
function gateDecidedBy(call: ToolCallRecord): string | undefined {
  if (call.decision.effect !== 'deny') return undefined;
  const { shape, receiptSlot, pin, tools, policy, approval, quota, placement } = call.checks;
  if (shape?.effect === 'deny') return 'oacp/shape';
  if (receiptSlot?.effect === 'deny') return 'oacp/log';
  if (pin?.effect === 'deny') return 'oacp/pin';
  if (tools?.effect === 'deny') return 'oacp/tools';
  if (policy?.effect === 'deny') return undefined;
  if (approval !== undefined && !approval.approved) return 'oacp/approval';
  if (quota?.effect === 'deny') return 'oacp/quota';
  if (placement?.effect === 'deny') return 'oacp/placement';
  if (policy === undefined) return 'oacp/agent';
  return undefined;
}
