import type { Command } from 'commander';
import { checkAgentCard } from '../../a2a/card-check.js';
import { type A2aCallResult, callA2aAgent, fetchAgentCard } from '../../a2a/client.js';
import type { Signer } from '../../core/ed25519.js';
import { describeError, isOacpError } from '../../core/errors.js';
import { oneLine } from '../../core/terminal-text.js';
import { CliExit } from '../io.js';
import type { CliContext, CommandRegistrar } from '../program.js';
import { openKeyStore } from './shared.js';

interface CallOptions {
  message: string;
  as?: string;
  encrypt?: boolean;
  expectDid?: string;
  stream?: boolean;
  json?: boolean;
}

export const registerA2a: CommandRegistrar = (program, context) => {
  const a2a = program
    .command('a2a')
    .description('talk to A2A agents, checking OACP attestation when they offer it');

  a2a
    .command('call')
    .description(
      'send a message to an A2A agent: verify its card, sign the message, verify the receipts on the results, print the trust level',
    )
    .argument('<url>', "the agent's URL (its card is at <url>/.well-known/agent-card.json) or its card URL")
    .requiredOption('-m, --message <text>', 'the text to send')
    .option('--as <agent>', 'sign as this agent of the OACP home (its did:key is what the receiver trusts)')
    .option('--encrypt', "ask for the result encrypted to the --as agent's key")
    .option('--expect-did <did>', 'refuse unless the card is signed by this did:key')
    .option('--stream', 'use message/stream (server-sent events) instead of message/send')
    .option('--json', 'print the result as JSON')
    .action(async (url: string, options: CallOptions, command: Command) => {
      if (options.encrypt === true && options.as === undefined) {
        throw new CliExit("--encrypt needs --as: the result is encrypted to that agent's key", 2);
      }
      const signer = options.as === undefined ? undefined : signerOf(context, command, options.as);
      let result: A2aCallResult;
      try {
        result = await callA2aAgent({
          url,
          text: options.message,
          ...(signer === undefined ? {} : { signer }),
          ...(options.encrypt === true ? { encrypt: true } : {}),
          ...(options.expectDid === undefined ? {} : { expectDid: options.expectDid }),
          ...(options.stream === true ? { stream: true } : {}),
        });
      } catch (error) {
        // The message may quote the agent's own error text: one line, so it cannot fake the rows around it.
        throw new CliExit(
          oneLine(isOacpError(error) ? `${error.code}: ${error.message}` : describeError(error)),
        );
      }
      printCall(context, result, options.json === true, signer === undefined);
      if (result.state !== 'completed' && result.state !== 'message') throw new CliExit('', 1);
    });

  a2a
    .command('card')
    .description("fetch an A2A agent's card and check its signature and OACP attestation extension")
    .argument('<url>', "the agent's URL or its card URL")
    .option('--expect-did <did>', 'require the card to be signed by this did:key')
    .option('--json', 'print the card and the check as JSON')
    .action(async (url: string, options: { expectDid?: string; json?: boolean }) => {
      let check: ReturnType<typeof checkAgentCard>;
      let name: string;
      try {
        const card = await fetchAgentCard(url);
        name = card.name;
        check = checkAgentCard(card, options.expectDid);
      } catch (error) {
        throw new CliExit(
          oneLine(isOacpError(error) ? `${error.code}: ${error.message}` : describeError(error)),
        );
      }
      const { out } = context.output;
      if (options.json === true) out(JSON.stringify({ name, ...check }, null, 2));
      else {
        out(`agent: ${oneLine(name)}`);
        out(`card: ${check.status} (${oneLine(check.reason)})`);
        if (check.status === 'verified') {
          out(`did: ${check.did}`);
          out(`tier: ${check.params.tier}`);
          out(`manifest: sha256:${check.params.manifestDigest}`);
          out(`receipts: ${oneLine(check.params.receipts)}`);
          out(`log: ${oneLine(check.params.log.origin)} (${oneLine(check.params.log.checkpoint)})`);
        }
      }
      if (check.status === 'invalid') throw new CliExit('', 1);
    });
};

function signerOf(context: CliContext, command: Command, name: string): Signer {
  try {
    return openKeyStore(context, command).agent(name).signer;
  } catch (error) {
    throw new CliExit(`--as ${name}: ${describeError(error)}`);
  }
}

function printCall(context: CliContext, result: A2aCallResult, json: boolean, unsigned: boolean): void {
  const { out } = context.output;
  if (json) {
    out(JSON.stringify(result, null, 2));
    return;
  }
  // Everything below but the verdicts is the agent's own text: each shown as one line, so a card
  // name, a status or an artifact cannot print a fake "card: verified" or "trust level" row.
  out(`agent: ${oneLine(result.cardName)}`);
  out(`card: ${result.card.status} (${oneLine(result.card.reason)})`);
  if (unsigned && result.card.status === 'verified') out('message: sent unsigned (no --as)');
  out(`task: ${result.state}${result.taskId === undefined ? '' : ` ${oneLine(result.taskId)}`}`);
  if (result.statusText !== '') out(`status: ${oneLine(result.statusText)}`);
  for (const artifact of result.artifacts) {
    const shown = artifact.output === undefined ? artifact.text : JSON.stringify(artifact.output.value);
    out(`artifact ${oneLine(artifact.name)}: ${oneLine(shown)}`);
    for (const check of artifact.checks)
      out(`  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${oneLine(check.detail)}`);
    if (artifact.receiptIndex !== undefined)
      out(`  receipt #${artifact.receiptIndex}: ${artifact.trustLevel}`);
  }
  out(`trust level: ${result.trustLevel}`);
}
