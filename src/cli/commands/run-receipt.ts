import { randomUUID } from 'node:crypto';
import type { ExecutionStatement } from '../../attest/oacp-statement.js';
import type { BuildStatementInput } from '../../attest/receipt.js';
import type { Signer } from '../../core/ed25519.js';
import { describeError } from '../../core/errors.js';
import type { SecretValues } from '../../core/secret-values.js';
import { ReceiptSlot } from '../../mcp/receipt-slot.js';
import { describeRecovery } from '../../node/intent-journal.js';
import { logDirectory, OacpNode } from '../../node/oacp-node.js';
import { CliExit, type Output } from '../io.js';

/**
 * Where `oacp run` records the one receipt of its run: the home's node (the
 * one receipt writer, `OacpNode.record`), whose append resolves once the
 * receipt is fsynced in the log.
 */
export interface RunRecorder {
  /** Throws when no receipt could be appended now (a failed append, a full disk): the run must not start. */
  ready(): void;
  /**
   * Right before the workload starts: keeps the receipt it gets if `oacp` dies before `record`
   * (outcome `interrupted`, see IntentJournal). Throws when it cannot: the run must not start.
   */
  intend(statement: BuildStatementInput): void;
  /** Records `statement`; throws a CliExit saying the run is unreceipted when it cannot. */
  record(statement: ExecutionStatement, agent: Signer | undefined, ran: string): Promise<void>;
  close(): Promise<void>;
}

const OPT_OUT = 'pass --no-receipt to run without one';

/** Opens the home's node, or refuses the run, naming the fix (`oacp init`, `--home`) and the opt-out. */
export async function openRunRecorder(
  home: string,
  env: NodeJS.ProcessEnv,
  output: Output,
  secrets?: SecretValues,
): Promise<RunRecorder> {
  let node: OacpNode;
  try {
    node = await OacpNode.open(home, env, secrets === undefined ? {} : { secrets });
  } catch (error) {
    throw new CliExit(
      `oacp run records a signed receipt of every run and cannot here (${describeError(error)}); ${OPT_OUT}`,
    );
  }
  for (const line of describeRecovery(node.recovered)) output.err(`oacp: ${line}`);
  const slot = new ReceiptSlot({ dir: logDirectory(home) });
  const runId = randomUUID();
  return {
    ready: () => slot.check(),
    intend: (statement) => node.intents().write(runId, statement),
    record: async (statement, agent, ran) => {
      let index: number;
      try {
        // The intent is void once the receipt's bytes reach the OS (see OacpNode.record).
        const settle = () => node.intents().done(runId);
        index = (await slot.track(node.record(statement, agent, settle))).index;
        settle();
      } catch (error) {
        throw new CliExit(
          `${ran}, but its receipt could not be recorded (${describeError(error)}); no receipt vouches for this run`,
        );
      }
      output.err(`oacp: execution receipt ${index} in log ${node.origin}`);
    },
    close: async () => {
      try {
        await node.close();
      } catch (error) {
        throw new CliExit(
          `the log could not be closed cleanly (${describeError(error)}); receipts it acknowledged are in its write-ahead log (oacp log fsck checks it)`,
        );
      }
    },
  };
}
