import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { McpRunOptionsInput } from '../../mcp/options.js';
import { packageCommand } from '../../mcp/packages/command-form.js';
import { hostNpm } from '../../mcp/packages/npm-cli.js';
import { PackageStore } from '../../mcp/packages/store.js';
import { TreeStamps } from '../../mcp/packages/tree-stamp.js';
import { probingTiers, type TierLookup } from '../../mcp/tiers.js';
import type { CommandRegistrar } from '../program.js';
import { registerMcpCatalog } from './mcp-catalog.js';
import { registerMcpClients } from './mcp-clients.js';
import { registerMcpPackages } from './mcp-packages.js';
import { collect, MISSING_GRANT_REFUSED, openKeyStore, refuseMissingFileGrants } from './shared.js';

interface McpRunFlags {
  tier?: string;
  name?: string;
  allowFiles: string[];
  allowNetwork: string[];
  allowEnv: string[];
  quotaMemory?: string;
  quotaTmp?: string;
  quotaCpu?: string;
  quotaStartupCpu?: string;
  quotaCalls?: string;
  allowUnenforced: string[];
  allowUnixSockets?: boolean;
  /** False with --no-node-preload. */
  nodePreload?: boolean;
  tools: string[];
  policy?: string;
  pins?: string;
  requireApproval: string[];
  approvalTimeout?: string;
  approvalShowArguments: string[];
  attestLevel?: string;
  agent?: string;
  manifest?: string;
  catalog?: string;
  upstream?: string;
  config?: string;
  http?: string;
  httpAuth?: string;
  httpTokenFile?: string;
  learn?: boolean;
  learnOut?: string;
  receiptAck?: string;
  requestTimeout?: string;
  idleTimeout?: string;
  maxSessions?: string;
  maxConnections?: string;
  maxUnreadAnswerBytes?: string;
  refusalReceipts?: string;
}

export const registerMcp: CommandRegistrar = (program, context) => {
  const mcp = program
    .command('mcp')
    .description('run unmodified MCP servers in the Airlock with policy and receipts');

  mcp
    .command('run')
    .description('bridge an MCP server: sandboxed, policy-checked, every tools/call receipted')
    .argument('[command...]', 'the server command after --')
    .option('--tier <tier>', 'isolation tier for the server (default hardened)')
    .option('--name <name>', 'server name in policies and receipts (default: from the command)')
    .option('--allow-files <path[:ro|:rw]>', 'grant a path to the server; repeatable', collect, [])
    .option('--allow-network <host[:port]>', 'allow egress to a host; repeatable', collect, [])
    .option('--allow-env <name>', 'pass an environment variable through; repeatable', collect, [])
    .option('--quota-memory <size>', 'memory limit, e.g. 256mb')
    .option(
      '--quota-tmp <size>',
      "size of the server's /tmp, which is also its HOME (a tmpfs, 64mb by default), e.g. 256mb",
    )
    .option('--quota-cpu <duration>', 'CPU limit per request, e.g. 2s')
    .option(
      '--quota-startup-cpu <duration>',
      'CPU the server may use while starting, before --quota-cpu applies, e.g. 20s',
    )
    .option(
      '--quota-calls <rate>',
      'rate limit on tools/call and reads (resources/read, prompts/get, …), e.g. 60/min',
    )
    .option(
      '--allow-unenforced <names>',
      'accept limits this host cannot enforce in the kernel (memory,pids,cpu,disk_io,identity); repeatable',
      collect,
      [],
    )
    .option(
      '--allow-unix-sockets',
      'hardened tier: allow socket(AF_UNIX) (headless browsers); host sockets inside granted directories become connectable',
    )
    .option(
      '--no-node-preload',
      "with --allow-network: no NODE_OPTIONS preload routing Node's fetch and node:http(s) through the egress proxy (for --experimental-permission); the allowlist still holds",
    )
    .option(
      '--tools <list>',
      'tools allowed (name or prefix*) and denied (!name), comma-separated; repeatable',
      collect,
      [],
    )
    .option('--policy <file>', 'Cedar policy for tools/call (default: permit every call)')
    .option('--pins <file>', 'tool definition pins file (default: under the OACP home)')
    .option(
      '--require-approval <tool>',
      'a human must approve each call of this tool; repeatable',
      collect,
      [],
    )
    .option('--approval-timeout <duration>', 'deny an unanswered approval after this long (default 2m)')
    .option(
      '--approval-show-arguments <field>',
      'an argument field (or *) whose value the approver may see; others are hidden; repeatable',
      collect,
      [],
    )
    .option('--attest-level <level>', 'basic (Airlock signs) or standard (agent co-signs; needs --agent)')
    .option('--agent <name>', 'agent identity in this home that co-signs receipts')
    .option(
      '--catalog <name>',
      "a catalogued server (oacp mcp search): its reviewed tool pins apply; without a command, runs it with the catalog's grants",
    )
    .option('--manifest <file>', 'capability manifest for the server')
    .option('--upstream <url>', 'bridge a remote Streamable HTTP MCP server instead of starting one')
    .option('--config <file>', 'oacp.yaml with several servers behind one endpoint')
    .option(
      '--http <host:port>',
      'serve Streamable HTTP (and legacy SSE) instead of stdio; clients send Authorization: Bearer <token>',
    )
    .option(
      '--http-auth <mode>',
      'with --http: bearer (default: a token file is made in the home, its path printed) or none (loopback only: open to every local user)',
    )
    .option(
      '--http-token-file <file>',
      'with --http: the client token, read once at start (the file must be 0600: no access for group or other)',
    )
    .option(
      '--learn',
      'record what the server does instead of denying it, then write a least-privilege manifest',
    )
    .option('--learn-out <file>', 'where --learn writes the manifest')
    .option('--receipt-ack <mode>', 'durable (answer after the receipt is fsynced, default) or queued')
    .option(
      '--request-timeout <duration>',
      'answer a request the server has not answered after this long with an error (default 5m)',
    )
    .option(
      '--idle-timeout <duration>',
      'with --http: end a session (and stop its server) idle this long (default 15m)',
    )
    .option(
      '--max-sessions <n>',
      'with --http: sessions served at once, each with its own server; more get 503 (default 32)',
    )
    .option(
      '--max-connections <n>',
      'with --http: connections held at once (idle ones included); more are closed as they are accepted (default half the open-file limit, at most 4096)',
    )
    .option(
      '--max-unread-answer-bytes <n>',
      'with --http: bytes of answers held at once for clients that do not read them; past it the slowest is cut (default 67108864, 64 MiB)',
    )
    .option(
      '--refusal-receipts <n>',
      'refused client messages (invalid, over the limits...) receipted one by one per session and minute, 10x that for all sessions; the rest are counted in one summary receipt a minute (default 30)',
    )
    .action(async (command: string[], flags: McpRunFlags, cmd: Command) => {
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const home = context.home(cmd);
      const stamps = startTreeStamp(command, flags, home);
      const probing = startTierProbe(flags);
      // Loaded here, not at the top: an MCP client starts `oacp mcp run` for every session.
      const { runMcpCommand } = await import('../../mcp/run.js');
      const front =
        flags.config === undefined
          ? undefined
          : (await import('../../gateway/config/mcp-options.js')).mcpFrontFromFile(flags.config);
      const servers = front?.servers;
      const [{ missingConfigFileGrants, missingFileGrants }, { absoluteFileGrant }] = await Promise.all([
        import('../../mcp/missing-grants.js'),
        import('../../mcp/options.js'),
      ]);
      // `--allow-files ./data:rw` is the invoker's ./data: made absolute once, here, then checked and bound as any grant.
      const allowFiles = flags.allowFiles.map((grant) => absoluteFileGrant(grant, process.cwd()));
      refuseMissingFileGrants(missingFileGrants(allowFiles, '--allow-files', MISSING_GRANT_REFUSED));
      if (servers !== undefined && flags.config !== undefined) {
        const grants = [...servers].map(([name, server]) => ({
          name,
          allow_files: server.allowFiles.map((grant) => grant.path),
        }));
        for (const line of missingConfigFileGrants(flags.config, grants)) context.output.err(line);
      }
      try {
        await runMcpCommand(
          {
            command,
            ...defined({
              tier: flags.tier,
              name: flags.name,
              quotaMemory: flags.quotaMemory,
              quotaTmp: flags.quotaTmp,
              quotaCpu: flags.quotaCpu,
              quotaStartupCpu: flags.quotaStartupCpu,
              quotaCalls: flags.quotaCalls,
              policy: flags.policy,
              pins: flags.pins,
              approvalTimeout: flags.approvalTimeout,
              attestLevel: flags.attestLevel,
              agent: flags.agent,
              manifest: flags.manifest,
              catalog: flags.catalog,
              upstream: flags.upstream,
              config: flags.config,
              http: flags.http,
              httpAuth: flags.httpAuth,
              httpTokenFile: flags.httpTokenFile,
              learnOut: flags.learnOut,
              receiptAck: flags.receiptAck,
              requestTimeout: flags.requestTimeout,
              idleTimeout: flags.idleTimeout,
              maxSessions: flags.maxSessions,
              maxConnections: flags.maxConnections,
              maxUnreadAnswerBytes: flags.maxUnreadAnswerBytes,
              // The flag wins over the file's mcp.refusal_receipts.
              refusalReceipts: flags.refusalReceipts ?? front?.refusalReceipts?.toString(),
            }),
            allowFiles,
            allowNetwork: flags.allowNetwork,
            allowEnv: flags.allowEnv,
            allowUnenforced: flags.allowUnenforced,
            tools: flags.tools,
            requireApproval: flags.requireApproval,
            approvalShowArguments: flags.approvalShowArguments,
            learn: flags.learn === true,
            allowUnixSockets: flags.allowUnixSockets === true,
            nodePreload: flags.nodePreload !== false,
            // Flag strings go in as given: runMcpCommand parses them with zod and names the bad flag.
          } as McpRunOptionsInput,
          {
            home,
            env: context.env,
            stamps,
            ...(probing === undefined ? {} : { probing }),
            ...(servers === undefined ? {} : { servers }),
            signal: controller.signal,
            log: (line) => context.output.err(line),
            secrets: context.secrets,
          },
        );
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });

  registerMcpPackages(mcp, context);
  registerMcpClients(mcp, context);
  registerMcpCatalog(mcp, context);

  mcp
    .command('package')
    .description('start a server locked down, list its tools, resources and prompts, and draft a manifest')
    .argument('<command...>', 'the server command after --')
    .option('--tier <tier>', 'isolation tier to inspect it in (default hardened)')
    .option('--name <name>', 'server name')
    .option(
      '--allow-env <name>',
      'an environment variable the server needs to start; repeatable',
      collect,
      [],
    )
    .option('--out <file>', 'write the draft manifest (YAML) here instead of stdout')
    .option('--sign', "also write <out>.dsse.json: the manifest signed by this home's Airlock key")
    .action(
      async (
        command: string[],
        flags: { tier?: string; name?: string; allowEnv: string[]; out?: string; sign?: boolean },
        cmd: Command,
      ) => {
        const { packageMcpCommand } = await import('../../mcp/package-command.js');
        const { yaml } = await packageMcpCommand(
          {
            command,
            allowEnv: flags.allowEnv,
            ...defined({ tier: flags.tier, name: flags.name, out: flags.out }),
          },
          { env: context.env, home: context.home(cmd), log: (line) => context.output.err(line) },
        );
        if (flags.out === undefined) context.output.out(yaml.trimEnd());
        else context.output.err(`wrote ${flags.out}`);
        if (flags.sign === true) {
          const [{ parse: parseYaml }, { parseManifest }, { signManifest }] = await Promise.all([
            import('yaml'),
            import('../../capability/parse.js'),
            import('../../capability/signed.js'),
          ]);
          const envelope = signManifest(parseManifest(parseYaml(yaml), 'draft'), [
            openKeyStore(context, cmd).airlockSigner(),
          ]);
          const target = `${flags.out ?? 'manifest'}.dsse.json`;
          writeFileSync(target, `${JSON.stringify(envelope, null, 2)}\n`);
          context.output.err(`wrote ${target} (signed by this home's Airlock key)`);
        }
      },
    );
};

/**
 * For a stdio bridge of one packaged server (`npm:<pkg>`, `npx <pkg>`), starts the stamp of its pinned tree
 * (GNU find, a child process) now, while the run modules load on this thread; the tree's check takes it
 * before the server starts, as before. Anything unusual (no pin, a bad spec, an unreadable pins file) starts
 * nothing here: the check then stamps the tree itself and reports what is wrong.
 */
function startTreeStamp(command: readonly string[], flags: McpRunFlags, home: string): TreeStamps {
  const stamps = new TreeStamps();
  if (flags.http !== undefined || flags.config !== undefined || flags.upstream !== undefined) return stamps;
  try {
    const wanted = packageCommand(command);
    if (wanted !== undefined) new PackageStore(home, hostNpm()).startStamp(wanted.spec, stamps);
  } catch {
    // The check reports it.
  }
  return stamps;
}

/**
 * For a stdio bridge of one server (the early start's case), starts the asked tier's availability probe (a child
 * process) now, beside the tree's stamp, while the run modules load on this thread; the server's start awaits
 * its answer as before (probingTiers).
 */
function startTierProbe(flags: McpRunFlags): TierLookup | undefined {
  if (flags.http !== undefined || flags.config !== undefined || flags.upstream !== undefined)
    return undefined;
  return probingTiers(flags.tier ?? 'hardened');
}

/** Drops undefined members, so optional flags stay absent rather than explicitly undefined. */
function defined<T extends Record<string, string | undefined>>(values: T): { [K in keyof T]?: string } {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]?: string;
  };
}
