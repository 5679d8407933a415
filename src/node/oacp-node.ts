import { join } from 'node:path';
import { z } from 'zod';
import type { Envelope } from '../attest/dsse.js';
import type { OacpStatement } from '../attest/oacp-statement.js';
import { type AsyncSigner, signReceiptAsync } from '../attest/receipt.js';
import type { Signer } from '../core/ed25519.js';
import { OacpError } from '../core/errors.js';
import { SecretValues } from '../core/secret-values.js';
import { KeyStore } from '../identity/keystore.js';
import { formatVerifierKey, SIG_TYPE_ED25519 } from '../log/note-keys.js';
import { signedStatePath } from '../log/signed-state.js';
import { type AppendAck, TransparencyLog } from '../log/transparency-log.js';
import type { WalRecovery } from '../log/wal.js';
import { IntentJournal, type Recovery, recoverIntents } from './intent-journal.js';
import { readNodeConfig } from './node-config.js';
import { SigningPool, type SigningPoolErrorCode } from './signing-pool.js';

export interface RecordedReceipt {
  readonly index: number;
  readonly envelope: Envelope;
  /** The exact bytes appended to the log (JCS of the envelope). */
  readonly bytes: Buffer;
}

/** Where a receipt can be fetched from a node, for `_meta` and A2A artifacts. */
export interface ReceiptLocation {
  readonly index: number;
  readonly origin: string;
}

export interface OacpNodeOptions {
  /**
   * Worker threads that make the Airlock's receipt signatures (0, the default,
   * signs on the calling thread). `defaultSigningWorkers()` gives one per extra core.
   */
  readonly signingWorkers?: number;
  /** Open the log read-only (list, show, export): no lock, no writes; `record` is refused. */
  readonly readOnly?: boolean;
  /** The process's live secret values: the master key's and the private keys' text forms are registered with it at open. */
  readonly secrets?: SecretValues;
  /** Told when an append cut a torn tail another process left while this one ran (TransparencyLogOptions.onTornTail). */
  readonly onTornTail?: (cut: WalRecovery) => void;
}

const OptionsSchema = z.strictObject({
  signingWorkers: z.number().int().min(0).max(64).optional(),
  readOnly: z.boolean().optional(),
  secrets: z.instanceof(SecretValues).optional(),
  onTornTail: z.custom<(cut: WalRecovery) => void>((value) => typeof value === 'function').optional(),
});

/**
 * One OACP node: the keys of a home and its transparency log. Every receipt the
 * node writes is signed by the Airlock key (and the agent's, when given) and is
 * durable in the log before `record` resolves.
 */
export class OacpNode {
  private readonly recording = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;
  private journal: IntentJournal | undefined;
  /** Receipts recorded at open for effects an earlier process on this home started and never recorded (see IntentJournal). */
  recovered: Recovery = { recorded: 0, unreadable: [] };

  private constructor(
    readonly home: string,
    readonly keys: KeyStore,
    readonly log: TransparencyLog,
    readonly origin: string,
    private readonly airlock: AsyncSigner,
    private readonly pool: SigningPool | undefined,
  ) {}

  static async open(
    home: string,
    env: Readonly<Record<string, string | undefined>> = process.env,
    options: OacpNodeOptions = {},
  ): Promise<OacpNode> {
    const parsed = OptionsSchema.safeParse(options);
    if (!parsed.success) {
      throw new OacpError<SigningPoolErrorCode>(
        'NODE_SIGNING_POOL_INVALID',
        `signingWorkers must be a whole number from 0 to 64, got ${String(options.signingWorkers)}`,
      );
    }
    const workers = parsed.data.signingWorkers ?? 0;
    // Registers the master key's and every private key's text forms with the process's secrets.
    const keys = KeyStore.open(
      home,
      env,
      parsed.data.secrets === undefined ? {} : { secrets: parsed.data.secrets },
    );
    const { origin } = readNodeConfig(home);
    const signer = keys.logSigner();
    const vkey = formatVerifierKey(origin, SIG_TYPE_ED25519, signer.publicKey);
    const log = await TransparencyLog.open(logDirectory(home), {
      origin,
      signer,
      readOnly: parsed.data.readOnly === true,
      // The largest tree this key signed, kept outside the home so a copy of it cannot fork.
      stateFile: signedStatePath(vkey, env),
      ...(parsed.data.onTornTail === undefined ? {} : { onTornTail: parsed.data.onTornTail }),
    });
    let pool: SigningPool | undefined;
    try {
      if (workers > 0) pool = await SigningPool.start(keys.airlockSigner(), { workers });
    } catch (error) {
      await log.close();
      throw error;
    }
    const node = new OacpNode(home, keys, log, origin, pool ?? keys.airlockSigner(), pool);
    if (parsed.data.readOnly !== true) {
      // A log that cannot take these receipts now does not stop the node: its own effects are refused
      // by their receipt slot meanwhile, and the intents wait for the next opener (recovered.failed).
      const intents = await recoverIntents(
        intentsDirectory(home),
        (statement, since) => node.recordRecovered(statement, since),
        () => log.size,
      );
      // Said by every opener (describeRecovery), never repaired silently.
      node.recovered =
        log.recovery.truncatedBytes === 0 ? intents : { ...intents, tornLogTail: log.recovery };
    }
    return node;
  }

  /**
   * This process's intent journal on the home, opened on first use: what a side effect's receipt
   * says if this process dies before recording it. Throws when it cannot be written.
   */
  intents(): Pick<IntentJournal, 'write' | 'done'> {
    return this.intentJournal;
  }

  /** Opens the journal on the first write only: marking an intent done never creates (or fails to create) one. */
  private readonly intentJournal: Pick<IntentJournal, 'write' | 'done'> = {
    write: (id, statement) => {
      if (this.closing !== undefined) IntentJournal.closed().write(id, statement);
      this.journal ??= IntentJournal.open(intentsDirectory(this.home));
      this.journal.write(id, statement);
    },
    done: (id) => this.journal?.done(id),
  };

  /** Threads signing for this node besides the caller's (0 when signing in-thread). */
  get signingWorkers(): number {
    return this.pool?.size ?? 0;
  }

  /**
   * Signs `statement` and appends it; resolves once the receipt is fsynced in the log (`ack`
   * `durable`, the default) or written to the OS (`written`: TransparencyLog.append). `written`
   * is called once its bytes are written to the OS, before the fsync: where an effect's intent is
   * marked done (IntentJournal), so no kill leaves a receipt in the log with its intent pending.
   */
  record(
    statement: OacpStatement,
    agent?: Signer,
    written?: () => void,
    ack: AppendAck = 'durable',
  ): Promise<RecordedReceipt> {
    const recorded = this.sign(statement, agent, written, ack);
    this.recording.add(recorded);
    const forget = () => this.recording.delete(recorded);
    recorded.then(forget, forget);
    return recorded;
  }

  /** Lets records already under way finish, then closes the log and stops any signing workers. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.recording]);
      this.journal?.close();
      try {
        await this.log.close();
      } finally {
        await this.pool?.close();
      }
    })();
    return this.closing;
  }

  /**
   * Records a receipt recovered from an intent journal, unless an earlier recovery, killed before it
   * could mark it done, already appended it at or after `since`: the Airlock's Ed25519 signature is
   * deterministic, so the same statement gives the same bytes, and recovery never repeats a receipt.
   */
  private async recordRecovered(statement: OacpStatement, since: number | undefined): Promise<void> {
    if (since !== undefined) {
      const { bytes } = await signReceiptAsync(statement, { airlock: this.airlock });
      await this.log.refresh();
      for (let index = since; index < this.log.size; index++) {
        if (bytes.equals(await this.log.entry(index))) return;
      }
    }
    await this.record(statement);
  }

  private async sign(
    statement: OacpStatement,
    agent: Signer | undefined,
    written: (() => void) | undefined,
    ack: AppendAck,
  ): Promise<RecordedReceipt> {
    const { envelope, bytes } = await signReceiptAsync(
      statement,
      agent === undefined ? { airlock: this.airlock } : { airlock: this.airlock, agent },
    );
    const { index } = await this.log.append(bytes, {
      ack,
      ...(written === undefined ? {} : { written: () => written() }),
    });
    return { index, envelope, bytes };
  }
}

/** Where the processes writing to a home keep their intent journals. */
export function intentsDirectory(home: string): string {
  return join(home, 'intents');
}

export function logDirectory(home: string): string {
  return join(home, 'log');
}
