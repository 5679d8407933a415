import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { describeError } from '../../core/errors.js';
import { decodeBase64, encodeBase64 } from '../../log/base64.js';
import { openCheckpoint } from '../../log/checkpoint.js';
import { emptyRoot, sameBytes } from '../../log/hash.js';
import { formatVerifierKey, SIG_TYPE_ED25519 } from '../../log/note-keys.js';
import { verifyConsistency } from '../../log/proof-verify.js';
import { accept, reject, type Verdict } from '../../log/verdict.js';
import { Witness } from '../../log/witness.js';
import { describeRecovery, hasOrphanedIntents } from '../../node/intent-journal.js';
import { readNodeConfig } from '../../node/node-config.js';
import { intentsDirectory, OacpNode } from '../../node/oacp-node.js';
import { CliExit } from '../io.js';
import type { CliContext, CommandRegistrar } from '../program.js';
import { registerLogAudit } from './log-audit.js';
import { registerLogCosigned } from './log-cosigned.js';
import { registerLogFsck } from './log-fsck.js';
import { FORK_EXIT, registerLogGossip } from './log-gossip.js';
import { registerLogKey } from './log-key.js';
import { openKeyStore, parseIndex, readInputFile } from './shared.js';

export const registerLog: CommandRegistrar = (program, context) => {
  const log = program.command('log').description("this node's transparency log");
  registerLogKey(log, context);

  log
    .command('checkpoint')
    .description('print the current signed checkpoint')
    .action(async (_options, command) => {
      await withNode(context, command, async (node) =>
        context.output.out((await node.log.checkpoint()).trimEnd()),
      );
    });

  log
    .command('export')
    .description('write receipt.json (the logged envelope) and receipt.json.tlog-proof for one entry')
    .argument('<index>', 'log index of the receipt')
    .requiredOption('--out <dir>', 'directory to write into')
    .action(async (indexText: string, options: { out: string }, command) => {
      const index = parseIndex(indexText, 'index');
      await withNode(context, command, async (node) => {
        if (index >= node.log.size)
          throw new CliExit(`index ${index} is beyond the log size ${node.log.size}`);
        const dir = resolve(options.out);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'receipt.json'), await node.log.entry(index));
        writeFileSync(join(dir, 'receipt.json.tlog-proof'), await node.log.proofFile(index));
        context.output.out(`wrote ${join(dir, 'receipt.json')} and ${join(dir, 'receipt.json.tlog-proof')}`);
      });
    });

  log
    .command('consistency')
    .description('prove that checkpoint NEW extends checkpoint OLD (RFC 9162 consistency proof)')
    .argument('<old>', 'older signed checkpoint file')
    .argument('<new>', 'newer signed checkpoint file')
    .option('--log-key <vkey>', "the log's verifier key file (default: this home's log key)")
    .option(
      '--proof <file>',
      'a consistency proof (base64 hashes, one per line) instead of asking the local log',
    )
    .option('--out <file>', 'also write the proof hashes to this file')
    .action(
      async (
        oldPath: string,
        newPath: string,
        options: { logKey?: string; proof?: string; out?: string },
        command,
      ) => {
        const logKey =
          options.logKey === undefined
            ? localVerifierKey(context, command)
            : readInputFile(options.logKey, 'log key').trim();
        const older = openCheckpoint(readInputFile(oldPath, 'checkpoint'), logKey);
        if (!older.ok) throw new CliExit(`${oldPath}: ${older.reason}`);
        const newer = openCheckpoint(readInputFile(newPath, 'checkpoint'), logKey);
        if (!newer.ok) throw new CliExit(`${newPath}: ${newer.reason}`);
        const [a, b] = [older.value.checkpoint, newer.value.checkpoint];
        if (a.size > b.size)
          throw new CliExit(
            `not consistent: ${oldPath} has size ${a.size}, more than ${newPath} (size ${b.size}); pass the older checkpoint first`,
          );
        const proof =
          options.proof === undefined
            ? await withNode(context, command, async (node) => node.log.consistencyProof(a.size, b.size))
            : parseProofLines(readInputFile(options.proof, 'proof'));
        const same = a.size === b.size && Buffer.from(a.root).equals(Buffer.from(b.root));
        const verdict = same
          ? { ok: true as const }
          : a.size === 0
            ? extendsEmptyTree(a.root, proof)
            : verifyConsistency(a.size, b.size, proof, a.root, b.root);
        if (options.out !== undefined)
          writeFileSync(options.out, proof.map((h) => `${encodeBase64(h)}\n`).join(''));
        // Both are signed by the log key: two trees that one does not extend is the log forking
        // (or, with --proof, a proof that does not hold), a security event like the witness's.
        if (!verdict.ok)
          throw new CliExit(
            a.size === b.size
              ? `SECURITY: LOG_FORK: not consistent: the log key signed two roots at size ${a.size} (${oldPath}, ${newPath}): the log forked`
              : `SECURITY: LOG_FORK: not consistent: size ${b.size} of ${a.origin} is not shown to extend size ${a.size} (${verdict.reason}): a fork of the log${options.proof === undefined ? '' : ', or a wrong --proof'}`,
            FORK_EXIT,
          );
        context.output.out(
          `consistent: ${a.origin} size ${b.size} extends size ${a.size} (${proof.length}-hash proof)`,
        );
      },
    );

  log
    .command('witness')
    .description(
      "cosign a log checkpoint as a witness (c2sp.org/tlog-cosignature) with this home's agent key",
    )
    .argument('<checkpoint>', 'the signed checkpoint file to cosign')
    .requiredOption('--log-key <vkey>', "the log's verifier key file")
    .requiredOption('--as <agent>', 'the agent identity in this home that acts as the witness')
    .option('--name <name>', 'witness key name (default: oacp-witness/<agent>)')
    .option(
      '--proof <file>',
      'consistency proof from the last checkpoint this witness cosigned (base64 lines)',
    )
    .option('--out <file>', 'write the cosigned checkpoint here instead of stdout')
    .action(
      async (
        checkpointPath: string,
        options: { logKey: string; as: string; name?: string; proof?: string; out?: string },
        command,
      ) => {
        const store = openKeyStore(context, command);
        const agent = store.agent(options.as);
        const witness = await Witness.open(join(store.home, 'witness-state.json'), {
          name: options.name ?? `oacp-witness/${agent.name}`,
          signer: agent.signer,
        });
        const cosigned = await witness
          .cosign({
            logKey: readInputFile(options.logKey, 'log key').trim(),
            checkpoint: readInputFile(checkpointPath, 'checkpoint'),
            proof: options.proof === undefined ? [] : parseProofLines(readInputFile(options.proof, 'proof')),
          })
          .catch((error: unknown) => {
            // Two trees under one key (or a rollback) is a security event, not a usage error.
            const code = (error as { code?: unknown }).code;
            if (code === 'LOG_WITNESS_FORK' || code === 'LOG_WITNESS_ROLLBACK')
              throw new CliExit(`SECURITY: ${String(code)}: ${(error as Error).message}`, FORK_EXIT);
            throw error;
          });
        if (options.out !== undefined) writeFileSync(options.out, cosigned);
        else context.output.out(cosigned.trimEnd());
        context.output.err(`witness key: ${witness.verifierKey}`);
      },
    );

  registerLogAudit(log, context, withNode);
  registerLogFsck(log, context);
  registerLogGossip(log, context, withNode);
  registerLogCosigned(log, context, withNode);
};

/** Read-only commands take no lock and write nothing: they run beside bridges and gateways. */
async function withNode<T>(
  context: CliContext,
  command: Command,
  run: (node: OacpNode) => Promise<T>,
): Promise<T> {
  const home = context.home(command);
  await recordInterrupted(context, home);
  const node = await OacpNode.open(home, context.env, { readOnly: true, secrets: context.secrets });
  try {
    return await run(node);
  } finally {
    await node.close();
  }
}

/**
 * Receipts of effects a killed process started and never recorded are written before the log is
 * read (see IntentJournal), so what is listed, shown or verified includes them. Opening the home
 * for writing does it; a reader that cannot write is told, and reads the log as it is.
 */
async function recordInterrupted(context: CliContext, home: string): Promise<void> {
  if (!hasOrphanedIntents(intentsDirectory(home))) return;
  try {
    const writer = await OacpNode.open(home, context.env, { secrets: context.secrets });
    for (const line of describeRecovery(writer.recovered)) context.output.err(`oacp: ${line}`);
    await writer.close();
  } catch (error) {
    context.output.err(
      `oacp: calls or runs that a killed process started are not recorded yet (${describeError(error)}); the next oacp mcp run, oacp run or gateway on this home records them`,
    );
  }
}

function localVerifierKey(context: CliContext, command: Command): string {
  const home = context.home(command);
  const store = openKeyStore(context, command);
  return formatVerifierKey(readOriginOf(home), SIG_TYPE_ED25519, store.publicKeys().log.raw);
}

function readOriginOf(home: string): string {
  return readNodeConfig(home).origin;
}

function parseProofLines(text: string): Uint8Array[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      const hash = decodeBase64(line.trim());
      if (hash === undefined || hash.length !== 32)
        throw new CliExit(`proof line ${i + 1} is not a base64 SHA-256 hash`);
      return hash;
    });
}

/**
 * Every tree extends the empty one (RFC 9162: its proof is empty), so a signed checkpoint of
 * size 0, the first a new log publishes, is consistent with any later one as long as its root
 * is the empty tree's. `verifyConsistency` refuses size 0 on purpose (a proof from nothing
 * proves nothing); here the old tree is known and signed, so its root is what is checked.
 */
function extendsEmptyTree(root: Uint8Array, proof: readonly Uint8Array[]): Verdict {
  if (!sameBytes(root, emptyRoot()))
    return reject('LOG_CONSISTENCY_FAILED', "the checkpoint of size 0 does not hold the empty tree's root");
  if (proof.length > 0) return reject('LOG_CONSISTENCY_FAILED', 'a proof from the empty tree has no hashes');
  return accept();
}
