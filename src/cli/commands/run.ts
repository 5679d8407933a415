import type { Command } from 'commander';
import { processTiers } from '../../airlock/process-tiers.js';
import { type ProcessTier, TIER_ORDER, type TierName } from '../../airlock/sandbox.js';
import { createTierRegistry } from '../../airlock/tiers.js';
import { StandardTier } from '../../airlock/wasm/standard-tier.js';
import type { ExecutionStatement } from '../../attest/oacp-statement.js';
import { manifestWithGrants } from '../../capability/grants.js';
import { loadManifest } from '../../capability/load.js';
import type { Manifest } from '../../capability/manifest.js';
import { describeError } from '../../core/errors.js';
import { describeUnixSocketHint, unixSocketHint } from '../../mcp/diagnose/unix-socket-hint.js';
import { missingFileGrants } from '../../mcp/missing-grants.js';
import {
  absoluteFileGrant,
  Duration,
  FileGrant,
  MemorySize,
  NetworkGrant,
  UnenforcedList,
} from '../../mcp/options.js';
import { withAbsoluteScript } from '../../mcp/server-identity.js';
import { codeDigestOf, codeInputsDigest, executeCode } from '../../run/execute-code.js';
import { executeProcess, processCodeDigest, processInputsDigest } from '../../run/execute-process.js';
import { interruptedExecution, refusedExecution } from '../../run/execution-facts.js';
import { CliExit } from '../io.js';
import type { CliContext, CommandRegistrar } from '../program.js';
import { interruptOnSignals, runExitCode } from './run-interrupt.js';
import { openRunRecorder, type RunRecorder } from './run-receipt.js';
import {
  collect,
  MISSING_GRANT_REFUSED,
  openKeyStore,
  parseFlag,
  readInputFile,
  refuseMissingFileGrants,
} from './shared.js';
import { describeWorkload } from './workload.js';

interface RunFlags {
  tier?: string;
  manifest?: string;
  allowFiles: string[];
  allowNetwork: string[];
  allowEnv: string[];
  quotaMemory?: string;
  quotaTmp?: string;
  quotaCpu?: string;
  quotaStartupCpu?: string;
  allowUnenforced: string[];
  allowUnixSockets?: boolean;
  /** False with --no-node-preload. */
  nodePreload?: boolean;
  input?: string;
  /** Absent by default, true with --receipt, false with --no-receipt. */
  receipt?: boolean;
  agent?: string;
}

export const registerRun: CommandRegistrar = (program, context) => {
  const said = new Set<string>();
  program
    .command('run')
    .description(
      "run a command (hardened tier by default) or a JavaScript agent file (standard tier) in the Airlock; every run (refused, killed or interrupted too) gets one signed receipt in the home's log, or is refused without a home unless --no-receipt",
    )
    .argument('<command...>', 'COMMAND [ARGS...] after --, or agent.js')
    .option('--tier <tier>', `isolation tier: ${TIER_ORDER.join(', ')}`)
    .option('--manifest <file>', 'capability manifest (YAML/JSON, or a signed DSSE envelope)')
    .option('--allow-files <path[:ro|:rw]>', 'grant a path, read-only unless :rw; repeatable', collect, [])
    .option('--allow-network <host[:port]>', 'allow egress to a host; repeatable', collect, [])
    .option('--allow-env <name>', 'pass an environment variable through; repeatable', collect, [])
    .option('--quota-memory <size>', 'memory limit, e.g. 256mb')
    .option(
      '--quota-tmp <size>',
      "hardened and gvisor tiers: size of the run's /tmp, which is also its HOME (a tmpfs, 64mb by default), e.g. 256mb",
    )
    .option('--quota-cpu <duration>', 'CPU limit of the run (native tiers: its lifetime CPU), e.g. 2s')
    .option(
      '--quota-startup-cpu <duration>',
      'CPU the run may use while starting (its first busy stretch) on top of --quota-cpu, e.g. 5s',
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
    .option('--input <json>', 'JSON value given to a JavaScript agent as `input`')
    .option(
      '--receipt',
      "record the run's signed receipt in this home's log (the default; the run is refused when it cannot be)",
    )
    .option('--no-receipt', 'run without a receipt (no OACP home needed); nothing vouches for the run')
    .option('--agent <name>', 'attribute the run to this agent and co-sign its receipt')
    .on('option:receipt', () => said.add('--receipt'))
    .on('option:no-receipt', () => said.add('--no-receipt'))
    .action(async (argv: string[], flags: RunFlags, command: Command) => {
      const [file, ...rest] = argv;
      if (file === undefined) throw new CliExit('nothing to run', 2);
      if (said.size > 1) throw new CliExit('--receipt and --no-receipt contradict each other; give one', 2);
      const isAgentFile =
        rest.length === 0 &&
        /\.(m?js)$/.test(file) &&
        (flags.tier === undefined || flags.tier === 'standard');
      const tier = parseTier(flags.tier ?? (isAgentFile ? 'standard' : 'hardened'));
      // `--allow-files ./data:rw` is the invoker's ./data: made absolute once, here, then checked and bound as any grant.
      const allowFiles = flags.allowFiles.map((grant) => absoluteFileGrant(grant, process.cwd()));
      const manifest = buildManifest({ ...flags, allowFiles });
      refuseMissingFileGrants(missingFileGrants(allowFiles, '--allow-files', MISSING_GRANT_REFUSED));
      const agentCode = tier === 'standard' ? readAgentFile(file, flags) : undefined;
      const home = context.home(command);
      const agent = flags.agent === undefined ? undefined : openKeyStore(context, command).agent(flags.agent);
      const recorder =
        flags.receipt === false
          ? undefined
          : await openRunRecorder(home, context.env, context.output, context.secrets);
      const interruption = interruptOnSignals();
      let failed = false;
      try {
        const run =
          agentCode === undefined
            ? await runCommand(
                context,
                tier,
                file,
                rest,
                manifest,
                agent?.did,
                home,
                recorder,
                interruption.signal,
              )
            : await runAgentFile(context, agentCode, manifest, agent?.did, recorder, interruption.signal);
        await recorder?.record(run.statement, agent?.signer, run.ran);
        if (run.refusal !== undefined) throw run.refusal;
        process.exitCode = run.exitCode;
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        interruption.dispose();
        // A log that cannot close fails the run, but never hides why the run already failed.
        await recorder?.close().catch((error: unknown) => {
          if (!failed) throw error;
        });
      }
    });
};

/** What one `oacp run` did, for its receipt and its exit status. */
interface RunResult {
  readonly statement: ExecutionStatement;
  readonly exitCode: number;
  /** How the run ended, in words, for a receipt that cannot be recorded. */
  readonly ran: string;
  /** Set when the run never started: thrown once its receipt is recorded. */
  readonly refusal?: unknown;
}

function refused(statement: ExecutionStatement, error: unknown): RunResult {
  return { statement, exitCode: 1, ran: `the run was refused (${describeError(error)})`, refusal: error };
}

function parseTier(name: string): TierName {
  if (!(TIER_ORDER as readonly string[]).includes(name)) {
    throw new CliExit(`--tier: unknown tier ${JSON.stringify(name)}; one of ${TIER_ORDER.join(', ')}`, 2);
  }
  return name as TierName;
}

function buildManifest(flags: RunFlags): Manifest {
  const base = flags.manifest === undefined ? undefined : loadManifest(flags.manifest);
  return manifestWithGrants(base, {
    files: flags.allowFiles.map((grant) => parseFlag('--allow-files', FileGrant, grant)),
    network: flags.allowNetwork.map((entry) => parseFlag('--allow-network', NetworkGrant, entry)),
    env: flags.allowEnv,
    unixSockets: flags.allowUnixSockets === true,
    nodePreload: flags.nodePreload !== false,
    quotas: {
      ...(flags.quotaMemory === undefined
        ? {}
        : { memory_mb: parseFlag('--quota-memory', MemorySize, flags.quotaMemory) }),
      ...(flags.quotaTmp === undefined
        ? {}
        : { tmp_mb: parseFlag('--quota-tmp', MemorySize, flags.quotaTmp) }),
      // A run is one request: the same figure bounds its busy stretches and its whole life.
      ...(flags.quotaCpu === undefined ? {} : runCpu(parseFlag('--quota-cpu', Duration, flags.quotaCpu))),
      ...(flags.quotaStartupCpu === undefined
        ? {}
        : runStartupCpu(
            parseFlag('--quota-startup-cpu', Duration, flags.quotaStartupCpu),
            flags.quotaCpu === undefined ? undefined : parseFlag('--quota-cpu', Duration, flags.quotaCpu),
          )),
      ...(flags.allowUnenforced.length === 0
        ? {}
        : {
            allow_unenforced: [
              ...new Set([
                ...(base?.quotas.allow_unenforced ?? []),
                ...parseFlag('--allow-unenforced', UnenforcedList, flags.allowUnenforced),
              ]),
            ],
          }),
    },
  });
}

function runCpu(ms: number): { cpu_ms_per_request: number; cpu_ms_total: number; startup_cpu_ms: number } {
  return { cpu_ms_per_request: ms, cpu_ms_total: ms, startup_cpu_ms: 0 };
}

/**
 * `--quota-startup-cpu`: the start's allowance, which is spent too, so with --quota-cpu the run's
 * lifetime budget is both (else the lifetime limit would end the start the flag allows).
 */
function runStartupCpu(
  ms: number,
  cpu: number | undefined,
): { startup_cpu_ms: number; cpu_ms_total?: number } {
  return cpu === undefined ? { startup_cpu_ms: ms } : { startup_cpu_ms: ms, cpu_ms_total: cpu + ms };
}

async function runCommand(
  context: CliContext,
  tierName: TierName,
  command: string,
  args: string[],
  manifest: Manifest,
  agentDid: string | undefined,
  home: string,
  recorder: RunRecorder | undefined,
  signal: AbortSignal,
): Promise<RunResult> {
  const startedAt = new Date();
  const spec = { command, args: withAbsoluteScript(command, args) };
  let workload: ReturnType<typeof describeWorkload> | undefined;
  let tier: ProcessTier;
  try {
    workload = describeWorkload('run', command, args, [home]);
    recorder?.ready();
    tier = await createTierRegistry<ProcessTier>(processTiers()).selectTier(tierName);
    recorder?.intend(
      interruptedExecution({
        tier: tierName,
        codeDigest: processCodeDigest(spec, workload.codeFiles),
        inputsDigest: processInputsDigest(spec),
        manifest,
        ...(agentDid === undefined ? {} : { agentDid }),
        startedAt,
      }),
    );
  } catch (error) {
    const statement = refusedExecution({
      tier: tierName,
      codeDigest: processCodeDigest(spec, workload?.codeFiles ?? []),
      inputsDigest: processInputsDigest(spec),
      manifest,
      ...(agentDid === undefined ? {} : { agentDid }),
      startedAt,
      error,
    });
    return refused(statement, error);
  }
  const outcome = await executeProcess({
    tier,
    spec: {
      ...spec,
      manifest,
      implicitReadPaths: workload.implicitReadPaths,
      protectedPaths: [home],
      env: context.env,
    },
    codeFiles: workload.codeFiles,
    stdoutSink: process.stdout,
    stderrSink: process.stderr,
    // A workload refused a thread may hang rather than exit: the limit is named while it runs.
    onLimitNotice: (notice) =>
      context.output.err(`oacp: workload at a limit (${notice.limit}): ${notice.detail}`),
    signal,
    ...(agentDid === undefined ? {} : { agentDid }),
  });
  if (!outcome.started) return refused(outcome.statement, outcome.error);
  const { exit } = outcome;
  if (exit.killedBy !== undefined)
    context.output.err(
      `oacp: workload stopped by the Airlock (${exit.killedBy})${exit.detail === undefined ? '' : `: ${exit.detail}`}`,
    );
  const exitCode = runExitCode(outcome.statement, exit, signal);
  if (exitCode !== 0 && tierName === 'hardened' && manifest.capabilities.unix_sockets !== true) {
    // The last lines only: a refused socket shows at the end of what a failed program said.
    const hint = unixSocketHint(outcome.stderr.subarray(-4096).toString('utf8').split('\n').slice(-12));
    if (hint !== undefined) context.output.err(describeUnixSocketHint(hint));
  }
  return { statement: outcome.statement, exitCode, ran: `the workload ran (exit ${exitCode})` };
}

function readAgentFile(file: string, flags: RunFlags): { code: string; input?: unknown } {
  const code = readInputFile(file, 'agent code');
  if (flags.input === undefined) return { code };
  try {
    return { code, input: JSON.parse(flags.input) };
  } catch {
    throw new CliExit('--input must be a JSON value', 2);
  }
}

async function runAgentFile(
  context: CliContext,
  agentCode: { code: string; input?: unknown },
  manifest: Manifest,
  agentDid: string | undefined,
  recorder: RunRecorder | undefined,
  signal: AbortSignal,
): Promise<RunResult> {
  const outcome = await executeCode({
    tier: async () => {
      recorder?.ready();
      const tier = await StandardTier.create({
        onEngineReport: (message) => context.output.err(`oacp: standard tier engine: ${message}`),
      });
      // The run's receipt if oacp is killed while the guest runs; a journal that cannot take it refuses the run.
      recorder?.intend(
        interruptedExecution({
          tier: 'standard',
          codeDigest: codeDigestOf(agentCode.code),
          inputsDigest: codeInputsDigest(agentCode.input),
          manifest,
          ...(agentDid === undefined ? {} : { agentDid }),
          startedAt: new Date(),
        }),
      );
      return tier;
    },
    code: agentCode.code,
    manifest,
    signal,
    ...(agentCode.input === undefined ? {} : { input: agentCode.input }),
    ...(agentDid === undefined ? {} : { agentDid }),
  });
  if (!outcome.ok) {
    if (!outcome.started) return refused(outcome.statement, new CliExit(outcome.error));
    context.output.err(`oacp: agent stopped: ${outcome.error}`);
    const exitCode = runExitCode(outcome.statement, { code: 1, signal: null }, signal);
    return { statement: outcome.statement, exitCode, ran: `the agent ran (exit ${exitCode})` };
  }
  for (const line of outcome.result.logs) context.output.err(line);
  if (outcome.result.value !== undefined) context.output.out(JSON.stringify(outcome.result.value));
  return { statement: outcome.statement, exitCode: 0, ran: 'the agent ran (exit 0)' };
}
