import { join } from 'node:path';
import type { Envelope } from '../attest/dsse.js';
import type { OacpStatement } from '../attest/oacp-statement.js';
import { envelopeBytes, signReceipt } from '../attest/receipt.js';
import type { Signer } from '../core/ed25519.js';
import { KeyStore } from '../identity/keystore.js';
import { TransparencyLog } from '../log/transparency-log.js';
import { readNodeConfig } from './node-config.js';

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

/**
 * One OACP node: the keys of a home and its transparency log. Every receipt the
 * node writes is signed by the Airlock key (and the agent's, when given) and is
 * durable in the log before `record` resolves.
 */
export class OacpNode {
  private constructor(
    readonly home: string,
    readonly keys: KeyStore,
    readonly log: TransparencyLog,
    readonly origin: string,
  ) {}

  static async open(
    home: string,
    env: Readonly<Record<string, string | undefined>> = process.env,
  ): Promise<OacpNode> {
    const keys = KeyStore.open(home, env);
    const { origin } = readNodeConfig(home);
    const log = await TransparencyLog.open(logDirectory(home), { origin, signer: keys.logSigner() });
    return new OacpNode(home, keys, log, origin);
  }

  /** Signs `statement` and appends it; resolves once the receipt is fsynced in the log. */
  async record(statement: OacpStatement, agent?: Signer): Promise<RecordedReceipt> {
    const envelope = signReceipt(
      statement,
      agent === undefined
        ? { airlock: this.keys.airlockSigner() }
        : { airlock: this.keys.airlockSigner(), agent },
    );
    const bytes = envelopeBytes(envelope);
    const { index } = await this.log.append(bytes);
    return { index, envelope, bytes };
  }

  close(): Promise<void> {
    return this.log.close();
  }
}

export function logDirectory(home: string): string {
  return join(home, 'log');
}
