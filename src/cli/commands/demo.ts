import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { processTiers } from '../../airlock/process-tiers.js';
import type { TierName } from '../../airlock/sandbox.js';
import { KeyStore } from '../../identity/keystore.js';
import { formatVerifierKey, SIG_TYPE_ED25519 } from '../../log/note-keys.js';
import { PipeClientTransport } from '../../mcp/pipe-client-transport.js';
import { runMcpCommand } from '../../mcp/run.js';
import { defaultOrigin, writeNodeConfig } from '../../node/node-config.js';
import { OacpNode } from '../../node/oacp-node.js';
import { OfflineVerifier } from '../../verify/offline-verifier.js';
import { CliExit, type Output } from '../io.js';
import type { CommandRegistrar } from '../program.js';

/**
 * `oacp demo`: OACP's main job on the embedded defaults, in a throw-away home.
 * The real filesystem MCP server from npm runs in the strongest tier this host
 * offers behind the bridge; a client makes a few calls, one refused by an
 * argument rule; then every receipt is verified offline from public keys.
 */
export const registerDemo: CommandRegistrar = (program, context) => {
  program
    .command('demo')
    .description(
      'the main job end to end: a real MCP server sandboxed, calls with policy and receipts, offline verification',
    )
    .option('--keep', 'keep the throw-away home, receipts and proofs (removed at the end otherwise)')
    .action(async (flags: { keep?: boolean }) => {
      const ok = await runDemo(context.output, flags.keep === true);
      if (!ok) throw new CliExit('the demo did not verify as expected', 1);
    });
};

interface Call {
  readonly tool: string;
  readonly arguments: Record<string, unknown>;
  readonly why: string;
}

async function runDemo(output: Output, keep: boolean): Promise<boolean> {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'oacp-demo-')));
  try {
    return await demoIn(root, output, keep);
  } finally {
    if (!keep) rmSync(root, { recursive: true, force: true });
  }
}

async function demoIn(root: string, output: Output, keep: boolean): Promise<boolean> {
  const { out } = output;
  const home = join(root, 'home');
  const data = join(root, 'data');
  out(`1. identities (throw-away OACP home ${home})`);
  const store = await KeyStore.init(home, { env: {} });
  const keys = store.publicKeys();
  const origin = defaultOrigin(keys.log.raw);
  writeNodeConfig(home, { version: 1, origin });
  const agent = store.createAgent('demo-agent');
  out(`   Airlock signer ${keys.airlock.didKey}`);
  out(`   agent demo-agent ${agent.did} (co-signs each receipt)`);
  out(`   log ${origin}`);

  // The sandboxed server runs as an unprivileged user when OACP runs as root: it must reach its grant.
  // The data is the operator's own folder (idmapped, written as its owner): a writable grant every
  // account may write is refused as root (what the server left there would be its leased id's).
  chmodSync(root, 0o755);
  mkdirSync(join(data, 'secret'), { recursive: true, mode: 0o755 });
  writeFileSync(join(data, 'secret', 'token.txt'), 'demo-token-not-for-agents\n', { mode: 0o644 });
  const policy = join(root, 'demo.cedar');
  writeFileSync(policy, demoPolicy(data));
  out(`2. policy ${policy}: tools may touch ${data}/..., never a path containing "secret"`);

  const tier = await strongestTier();
  const server = createRequire(import.meta.url).resolve(
    '@modelcontextprotocol/server-filesystem/dist/index.js',
  );
  out(
    `3. start @modelcontextprotocol/server-filesystem (unmodified) in the ${tier} tier, the strongest this host offers`,
  );
  out(`   granted: ${data} (read-write); nothing else of the host but the server's own code`);

  const toBridge = new PassThrough();
  const fromBridge = new PassThrough();
  const bridgeLog: string[] = [];
  const running = runMcpCommand(
    {
      command: [process.execPath, server, data],
      tier,
      name: 'filesystem',
      allowFiles: [`${data}:rw`],
      policy,
      agent: 'demo-agent',
      attestLevel: 'standard',
    },
    { home, env: {}, stdin: toBridge, stdout: fromBridge, log: (line) => bridgeLog.push(line) },
  );
  const client = new Client({ name: 'oacp-demo-client', version: '1.0.0' });
  const indexes: Array<{ index: number; tool: string; expect: 'allow' | 'deny' }> = [];
  try {
    await client.connect(new PipeClientTransport(fromBridge, toBridge));
    const { tools } = await client.listTools();
    out(`4. the client sees ${tools.length} tools through the bridge; calls:`);
    const calls: Array<Call & { expect: 'allow' | 'deny' }> = [
      {
        tool: 'write_file',
        arguments: { path: `${data}/notes.txt`, content: 'written through OACP\n' },
        why: 'write inside the grant',
        expect: 'allow',
      },
      {
        tool: 'read_text_file',
        arguments: { path: `${data}/notes.txt` },
        why: 'read it back',
        expect: 'allow',
      },
      { tool: 'list_directory', arguments: { path: data }, why: 'list the grant', expect: 'allow' },
      {
        tool: 'read_text_file',
        arguments: { path: `${data}/secret/token.txt` },
        why: 'read the secret',
        expect: 'deny',
      },
    ];
    for (const call of calls) {
      const result = await client.callTool({ name: call.tool, arguments: call.arguments });
      const receipt = result._meta?.['oacp/receipt'] as { index?: number } | undefined;
      const text = firstText(result);
      const verdict = result.isError === true ? 'DENIED' : 'ok';
      out(`   ${call.tool} (${call.why}): ${verdict}, receipt #${receipt?.index ?? '?'}: ${text}`);
      if (receipt?.index !== undefined)
        indexes.push({ index: receipt.index, tool: call.tool, expect: call.expect });
      if ((call.expect === 'deny') !== (result.isError === true)) out('   ^ UNEXPECTED outcome');
    }
  } finally {
    await client.close();
    await running;
  }

  out('5. verify every receipt offline, from public keys only (oacp verify does the same)');
  const node = await OacpNode.open(home, {});
  let allVerified = indexes.length === 4;
  try {
    const logKey = formatVerifierKey(origin, SIG_TYPE_ED25519, keys.log.raw);
    writeFileSync(join(root, 'log.vkey'), `${logKey}\n`);
    writeFileSync(join(root, 'signer.pem'), keys.airlock.pem);
    const verifier = new OfflineVerifier({ airlockKeys: [keys.airlock.raw], logKey });
    for (const { index, tool, expect } of indexes) {
      const receipt = Buffer.from(await node.log.entry(index)).toString('utf8');
      const proof = await node.log.proofFile(index);
      writeFileSync(join(root, `receipt-${index}.json`), receipt);
      writeFileSync(join(root, `receipt-${index}.json.tlog-proof`), proof);
      const result = verifier.verify(receipt, proof);
      const statement = JSON.parse(Buffer.from(JSON.parse(receipt).payload, 'base64').toString('utf8')) as {
        predicate: { policy: { effect: string; reason: string }; tier: string };
      };
      const decision = statement.predicate.policy.effect;
      out(
        `   #${index} ${tool}: policy ${decision} (${statement.predicate.policy.reason}), tier ${statement.predicate.tier}, ` +
          `${result.ok ? 'verified' : 'NOT verified'}, trust level ${result.trustLevel}`,
      );
      allVerified &&= result.ok && decision === expect;
    }
    if (keep) {
      out(`   try it yourself: oacp verify ${join(root, `receipt-${indexes[0]?.index ?? 0}.json`)} \\`);
      out(
        `     --proof ${join(root, `receipt-${indexes[0]?.index ?? 0}.json.tlog-proof`)} --log-key ${join(root, 'log.vkey')} --signer-key ${join(root, 'signer.pem')}`,
      );
    } else {
      out(
        '   (run oacp demo --keep to keep the receipts and proofs and verify them yourself with oacp verify)',
      );
    }

    out('6. tamper with a receipt (claim the refused call was allowed) and verify again');
    const denied = indexes.find((entry) => entry.expect === 'deny');
    if (denied !== undefined) {
      const envelope = JSON.parse(Buffer.from(await node.log.entry(denied.index)).toString('utf8')) as {
        payload: string;
      };
      const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
      statement.predicate.policy.effect = 'allow';
      envelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
      const tampered = verifier.verify(JSON.stringify(envelope), await node.log.proofFile(denied.index));
      for (const check of tampered.checks.filter((c) => !c.ok))
        out(`   refused: ${check.name}: ${check.detail}`);
      allVerified &&= !tampered.ok;
    }
  } finally {
    await node.close();
  }
  out(allVerified ? 'demo complete: every receipt verified, the tampered one was refused' : 'demo FAILED');
  if (keep) out(`kept ${root}`);
  if (!allVerified) for (const line of bridgeLog) output.err(line);
  return allVerified;
}

function demoPolicy(data: string): string {
  return `// Demo policy: the filesystem tools may only touch ${data}, never anything named secret.
@id("data-only")
permit(principal, action == Action::"tools/call", resource)
when { context.arguments has path && context.arguments.path like "${data}/*" };

@id("data-root")
permit(principal, action == Action::"tools/call", resource)
when { context.arguments has path && context.arguments.path == "${data}" };

@id("list-roots")
permit(principal, action == Action::"tools/call", resource == Tool::"list_allowed_directories");

@id("no-secrets")
forbid(principal, action == Action::"tools/call", resource)
when { context.arguments has path && context.arguments.path like "*secret*" };
`;
}

/** gvisor, then hardened, then light: the first this host can run. */
async function strongestTier(): Promise<TierName> {
  const candidates = processTiers().filter((tier) => ['gvisor', 'hardened', 'light'].includes(tier.name));
  for (const tier of candidates.reverse()) {
    if ((await tier.availability()).available) return tier.name;
  }
  return 'light';
}

function firstText(result: unknown): string {
  const content = (result as { content?: Array<{ type?: string; text?: string }> }).content;
  const text = content?.find((part) => part.type === 'text')?.text ?? '';
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 90 ? `${line.slice(0, 87)}...` : line;
}
