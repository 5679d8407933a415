import type { Command } from 'commander';
import { processTiers } from '../../airlock/process-tiers.js';
import { type ProcessTier, TIER_ORDER, type TierName } from '../../airlock/sandbox.js';
import { createTierRegistry } from '../../airlock/tiers.js';
import { StandardTier } from '../../airlock/wasm/standard-tier.js';
import type { ExecutionStatement } from '../../attest/oacp-statement.js';
import { manifestWithGrants } from '../../capability/grants.js';
import { loadManifest } from '../../capability/load.js';
import type { Manifest } from '../../capability/manifest.js';
import { describeUnixSocketHint, unixSocketHint } from '../../mcp/diagnose/unix-socket-hint.js';
import { Duration, FileGrant, MemorySize, UnenforcedList } from '../../mcp/options.js';
import { withAbsoluteScript } from '../../mcp/server-identity.js';
import { OacpNode } from '../../node/oacp-node.js';
import { executeCode } from '../../run/execute-code.js';
import { executeProcess } from '../../run/execute-process.js';
import { CliExit } from '../io.js';
import type { CliContext, CommandRegistrar } from '../program.js';
import { collect, openKeyStore, readInputFile } from './shared.js';
import { describeWorkload } from './workload.js';

interface RunFlags {
  tier?: string;
  manifest?: string;
  allowFiles: string[];
  allowNetwork: string[];
  allowEnv: string[];
  quotaMemory?: string;
  quotaCpu?: string;
  allowUnenforced: string[];
  allowUnixSockets?: boolean;
  input?: string;
  receipt?: boolean;
  agent?: string;
}

export const registerRun: CommandRegistrar = (program, context) => {
  program
    .command('run')
    .description(
      'run a command (hardened tier by default) or a JavaScript agent file (standard tier) in the Airlock',
    )
    .argument('<command...>', 'COMMAND [ARGS...] after --, or agent.js')
    .option('--tier <tier>', `isolation tier: ${TIER_ORDER.join(', ')}`)
    .option('--manifest <file>', 'capability manifest (YAML/JSON, or a signed DSSE envelope)')
    .option('--allow-files <path[:ro|:rw]>', 'grant a path, read-only unless :rw; repeatable', collect, [])
    .option('--allow-network <host[:port]>', 'allow egress to a host; repeatable', collect, [])
    .option('--allow-env <name>', 'pass an environment variable through; repeatable', collect, [])
    .option('--quota-memory <size>', 'memory limit, e.g. 256mb')
    .option('--quota-cpu <duration>', 'CPU limit of the run (native tiers: its lifetime CPU), e.g. 2s')
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
    .option('--input <json>', 'JSON value given to a JavaScript agent as `input`')
    .option('--receipt', "record a signed execution receipt in this home's transparency log")
    .option('--agent <name>', 'attribute the run to this agent and co-sign its receipt')
    .action(async (argv: string[], flags: RunFlags, command: Command) => {
      const [file, ...rest] = argv;
      if (file === undefined) throw new CliExit('nothing to run', 2);
      const isAgentFile =
        rest.length === 0 &&
        /\.(m?js)$/.test(file) &&
        (flags.tier === undefined || flags.tier === 'standard');
      const tier = parseTier(flags.tier ?? (isAgentFile ? 'standard' : 'hardened'));
      const manifest = buildManifest(flags);
      const agent = flags.agent === undefined ? undefined : openKeyStore(context, command).agent(flags.agent);
      const node =
        flags.receipt === true ? await OacpNode.open(context.home(command), context.env) : undefined;
      try {
        const { statement, exitCode } =
          tier === 'standard'
            ? await runAgentFile(context, file, flags, manifest, agent?.did)
            : await runCommand(context, tier, file, rest, manifest, agent?.did, context.home(command));
        if (node !== undefined) {
          const recorded = await node.record(statement, agent?.signer);
          context.output.err(`oacp: execution receipt ${recorded.index} in log ${node.origin}`);
        }
        process.exitCode = exitCode;
      } finally {
        await node?.close();
      }
    });
};

function parseTier(name: string): TierName {
  if (!(TIER_ORDER as readonly string[]).includes(name)) {
    throw new CliExit(`--tier: unknown tier ${JSON.stringify(name)}; one of ${TIER_ORDER.join(', ')}`, 2);
  }
  return name as TierName;
}

function buildManifest(flags: RunFlags): Manifest {
  const flag = <T>(
    name: string,
    schema: {
      safeParse(
        v: unknown,
      ): { success: true; data: T } | { success: false; error: { issues: { message: string }[] } };
    },
    value: unknown,
  ): T => {
    const parsed = schema.safeParse(value);
    if (!parsed.success)
      throw new CliExit(`${name} ${String(value)}: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 2);
    return parsed.data;
  };
  const base = flags.manifest === undefined ? undefined : loadManifest(flags.manifest);
  return manifestWithGrants(base, {
    files: flags.allowFiles.map((grant) => flag('--allow-files', FileGrant, grant)),
    network: flags.allowNetwork,
    env: flags.allowEnv,
    unixSockets: flags.allowUnixSockets === true,
    quotas: {
      ...(flags.quotaMemory === undefined
        ? {}
        : { memory_mb: flag('--quota-memory', MemorySize, flags.quotaMemory) }),
      // A run is one request: the same figure bounds its busy stretches and its whole life.
      ...(flags.quotaCpu === undefined ? {} : runCpu(flag('--quota-cpu', Duration, flags.quotaCpu))),
      ...(flags.allowUnenforced.length === 0
        ? {}
        : {
            allow_unenforced: [
              ...new Set([
                ...(base?.quotas.allow_unenforced ?? []),
                ...flag('--allow-unenforced', UnenforcedList, flags.allowUnenforced),
              ]),
            ],
          }),
    },
  });
}

function runCpu(ms: number): { cpu_ms_per_request: number; cpu_ms_total: number; startup_cpu_ms: number } {
  return { cpu_ms_per_request: ms, cpu_ms_total: ms, startup_cpu_ms: 0 };
}

async function runCommand(
  context: CliContext,
  tierName: TierName,
  command: string,
  args: string[],
  manifest: Manifest,
  agentDid: string | undefined,
  home: string,
): Promise<{ statement: ExecutionStatement; exitCode: number }> {
  const registry = createTierRegistry<ProcessTier>(processTiers());
  const tier = await registry.selectTier(tierName);
  const workload = describeWorkload('run', command, args, [home]);
  const outcome = await executeProcess({
    tier,
    spec: {
      command,
      args: withAbsoluteScript(command, args),
      manifest,
      implicitReadPaths: workload.implicitReadPaths,
      protectedPaths: [home],
      env: context.env,
    },
    codeFiles: workload.codeFiles,
    stdoutSink: process.stdout,
    stderrSink: process.stderr,
    ...(agentDid === undefined ? {} : { agentDid }),
  });
  const { exit } = outcome;
  if (exit.killedBy !== undefined)
    context.output.err(
      `oacp: workload stopped by the Airlock (${exit.killedBy})${exit.detail === undefined ? '' : `: ${exit.detail}`}`,
    );
  const exitCode = exit.code ?? (exit.signal === null ? 1 : 128 + signalNumber(exit.signal));
  if (exitCode !== 0 && tierName === 'hardened' && manifest.capabilities.unix_sockets !== true) {
    // The last lines only: a refused socket shows at the end of what a failed program said.
    const hint = unixSocketHint(outcome.stderr.subarray(-4096).toString('utf8').split('\n').slice(-12));
    if (hint !== undefined) context.output.err(describeUnixSocketHint(hint));
  }
  return { statement: outcome.statement, exitCode };
}

async function runAgentFile(
  context: CliContext,
  file: string,
  flags: RunFlags,
  manifest: Manifest,
  agentDid: string | undefined,
): Promise<{ statement: ExecutionStatement; exitCode: number }> {
  const code = readInputFile(file, 'agent code');
  let input: unknown;
  if (flags.input !== undefined) {
    try {
      input = JSON.parse(flags.input);
    } catch {
      throw new CliExit('--input must be a JSON value', 2);
    }
  }
  const outcome = await executeCode({
    tier: await StandardTier.create(),
    code,
    manifest,
    ...(input === undefined ? {} : { input }),
    ...(agentDid === undefined ? {} : { agentDid }),
  });
  if (!outcome.ok) {
    context.output.err(`oacp: agent stopped: ${outcome.error}`);
    return { statement: outcome.statement, exitCode: 1 };
  }
  for (const line of outcome.result.logs) context.output.err(line);
  if (outcome.result.value !== undefined) context.output.out(JSON.stringify(outcome.result.value));
  return { statement: outcome.statement, exitCode: 0 };
}

function signalNumber(signal: string): number {
  const numbers: Record<string, number> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGKILL: 9,
    SIGSEGV: 11,
    SIGTERM: 15,
    SIGXCPU: 24,
  };
  return numbers[signal] ?? 0;
}
