import { NO_USAGE } from '../airlock/sandbox.js';
import { type Envelope, pae } from '../attest/dsse.js';
import type { OacpStatement } from '../attest/oacp-statement.js';
import { type AsyncSigner, buildStatement, envelopeBytes, statementBytes } from '../attest/receipt.js';
import { IN_TOTO_PAYLOAD_TYPE } from '../attest/statement.js';
import { TOOL_CALL_PREDICATE_TYPE, type ToolCallPredicateInput } from '../attest/tool-call.js';
import type { Signer } from '../core/ed25519.js';
import { jcsDigest } from '../core/jcs.js';
import { didKeyFromPublicKey, isDidKey } from '../identity/did-key.js';
import type { TransparencyLog } from '../log/transparency-log.js';
import type { ReceiptRef, ReceiptSink, ToolCallRecord } from './record.js';

/** Signs a statement and makes it durable; `OacpNode` is one. */
export interface ReceiptWriter {
  record(statement: OacpStatement, agent?: Signer): Promise<{ readonly index: number }>;
}

/**
 * When the client is answered relative to the receipt reaching disk.
 * - `durable` (default): after the log has fsynced the receipt.
 * - `queued`: as soon as the receipt is signed and queued, in order, for the
 *   log's next group commit; its index is known then because this writer is
 *   the log's only appender. A crash (power loss) in the few milliseconds
 *   before the fsync can lose receipts of calls already answered; a failed
 *   write stops the writer, so every later call fails closed.
 */
export type ReceiptAck = 'durable' | 'queued';

/** A writer that can also report when everything it accepted is durable. */
export interface LogReceiptWriter extends ReceiptWriter {
  /** Resolves when every receipt accepted so far is in the log; rejects if one failed. */
  settled(): Promise<void>;
}

/**
 * A writer over a transparency log and an Airlock key. The statement comes from
 * buildStatement, which already checked it strictly, so it is signed as is
 * (agent first, then Airlock, as signReceipt orders them) without a second
 * validation pass: the bytes are identical, and so is what verifiers see.
 */
export function logReceiptWriter(
  log: Pick<TransparencyLog, 'append' | 'size'>,
  airlock: AsyncSigner,
  options: { ack?: ReceiptAck } = {},
): LogReceiptWriter {
  const ack = options.ack ?? 'durable';
  let next: number | undefined;
  let failure: Error | undefined;
  let pending: Promise<unknown> = Promise.resolve();
  return {
    async record(statement, agent) {
      if (failure !== undefined) throw failure;
      const signers: AsyncSigner[] = agent === undefined ? [airlock] : [agent, airlock];
      const payload = statementBytes(statement);
      const message = pae(IN_TOTO_PAYLOAD_TYPE, payload);
      // A SigningPool signs on a worker thread; a plain Signer answers at once.
      const signatures = await Promise.all(signers.map((signer) => signer.sign(message)));
      if (failure !== undefined) throw failure;
      const envelope: Envelope = {
        payload: payload.toString('base64'),
        payloadType: IN_TOTO_PAYLOAD_TYPE,
        signatures: signatures.map((sig) => ({ keyid: '', sig: Buffer.from(sig).toString('base64') })),
      };
      const appended = log.append(envelopeBytes(envelope));
      if (ack === 'durable') return appended;
      next ??= log.size;
      const index = next++;
      const checked = appended.then(
        (result) => {
          if (result.index !== index) {
            failure = new Error(
              `receipt landed at log index ${result.index}, ${index} was promised: another writer shares the log`,
            );
          }
        },
        (error: unknown) => {
          failure = error instanceof Error ? error : new Error(String(error));
        },
      );
      pending = Promise.all([pending, checked]);
      return { index };
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

  constructor(options: AttestedReceiptsOptions) {
    this.#options = options;
    this.#agentDid =
      options.agentSigner === undefined ? undefined : didKeyFromPublicKey(options.agentSigner.publicKey);
  }

  async record(call: ToolCallRecord): Promise<ReceiptRef> {
    const statement = buildStatement({
      predicateType: TOOL_CALL_PREDICATE_TYPE,
      predicate: toolCallPredicate(call),
    });
    const coSign =
      this.#agentDid !== undefined && this.#agentDid === call.agent ? this.#options.agentSigner : undefined;
    const { index } = await this.#options.writer.record(statement, coSign);
    const path = this.#options.receiptPath?.(index);
    return path === undefined
      ? { index, log: this.#options.origin }
      : { index, log: this.#options.origin, path };
  }
}

/** The tool-call predicate (docs/receipts.md) for one finished call. */
export function toolCallPredicate(call: ToolCallRecord): ToolCallPredicateInput {
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
  return {
    agent: {
      ...(did !== undefined ? { did } : { clientId: call.agent }),
      ...(did !== undefined && call.client !== undefined ? { clientId: `client:${call.client.name}` } : {}),
    },
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
    tool: { name: call.tool, definitionDigest: call.toolDefinitionDigest },
    argumentsDigest: call.argumentsDigest,
    ...(resultDigest === undefined ? {} : { resultDigest }),
    policy: {
      effect: call.decision.effect,
      reason: call.decision.reason,
      ...(policyId === undefined ? {} : { policyId }),
      ...(gateId === undefined && policyIds.length > 0 ? { policyIds: [...policyIds] } : {}),
      policyDigest: call.policyDigest,
    },
    // A remote server runs outside any Airlock: no isolation, which is what `light` records.
    tier:
      call.tier === 'light' || call.tier === 'standard' || call.tier === 'hardened' || call.tier === 'gvisor'
        ? call.tier
        : 'light',
    usage: call.usage ?? NO_USAGE,
    ...(approval?.approved === true
      ? { approval: { approvedBy: approval.by, approvedAt: approval.at, method: approval.method } }
      : {}),
    startedAt: call.startedAt,
    finishedAt,
    durationMs: call.durationMs,
  };
}

/** Non-Cedar refusals get a reserved id naming the check, so a receipt says which gate said no. */
function gateDecidedBy(call: ToolCallRecord): string | undefined {
  if (call.decision.effect !== 'deny') return undefined;
  const { pin, tools, policy, approval, quota } = call.checks;
  if (pin?.effect === 'deny') return 'oacp/pin';
  if (tools?.effect === 'deny') return 'oacp/tools';
  if (policy?.effect === 'deny') return undefined;
  if (approval !== undefined && !approval.approved) return 'oacp/approval';
  if (quota?.effect === 'deny') return 'oacp/quota';
  if (policy === undefined) return 'oacp/agent';
  return undefined;
}
