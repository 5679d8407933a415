import type { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type {
  ExitStatus,
  LimitNotice,
  ProcessSandbox,
  ProcessSpec,
  ProcessTier,
  Usage,
} from '../airlock/sandbox.js';
import { EXECUTION_PREDICATE_TYPE } from '../attest/execution.js';
import type { ExecutionStatement } from '../attest/oacp-statement.js';
import { buildStatement } from '../attest/receipt.js';
import { sha256Hex } from '../core/digest.js';
import { jcsDigest } from '../core/jcs.js';
import { escapeControl } from '../core/terminal-text.js';
import { endedOutcome, executionLimits, type Interruption, refusedExecution } from './execution-facts.js';

export interface ProcessRun {
  readonly tier: ProcessTier;
  readonly spec: ProcessSpec;
  /** Bytes written to the workload's stdin, then closed. */
  readonly stdin?: Uint8Array;
  /** Where the workload's output is copied as it arrives (the user's terminal, say). */
  readonly stdoutSink?: Writable;
  readonly stderrSink?: Writable;
  /** The agent the run is attributed to. */
  readonly agentDid?: string;
  /** The files that are the workload's code (executable, script, package.json) with their digests. */
  readonly codeFiles: readonly { readonly path: string; readonly sha256: string }[];
  /** Aborted with an Interruption as its reason: the workload is stopped and the run recorded `interrupted`. */
  readonly signal?: AbortSignal;
  /** Told at the first limit the workload meets while it runs (a refused thread may hang it, not end it). */
  readonly onLimitNotice?: (notice: LimitNotice) => void;
}

export interface ProcessOutcome {
  readonly started: true;
  readonly exit: ExitStatus;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly usage: Usage;
  readonly statement: ExecutionStatement;
}

/** A start the tier refused (a grant, a limit it cannot enforce, the host): nothing ran. */
export interface RefusedProcess {
  readonly started: false;
  readonly error: unknown;
  readonly statement: ExecutionStatement;
}

/** What the receipt says ran: the argv and the digests of the files that are its code. */
export function processCodeDigest(
  spec: Pick<ProcessSpec, 'command' | 'args'>,
  codeFiles: ProcessRun['codeFiles'],
): string {
  return jcsDigest({ command: [spec.command, ...spec.args], files: codeFiles });
}

export function processInputsDigest(spec: Pick<ProcessSpec, 'command' | 'args'>, stdin?: Uint8Array): string {
  return jcsDigest({ argv: [spec.command, ...spec.args], stdin: sha256Hex(stdin ?? '') });
}

/**
 * Runs one command to completion in `tier` and describes the run as an execution
 * statement, a start the tier refused included.
 */
export async function executeProcess(run: ProcessRun): Promise<ProcessOutcome | RefusedProcess> {
  const startedAt = new Date();
  let sandbox: ProcessSandbox;
  try {
    if (run.signal?.aborted === true)
      throw new Error(`interrupted before the start (${interruptedBy(run.signal)})`);
    sandbox = await run.tier.start(run.spec);
  } catch (error) {
    const statement = refusedExecution({
      tier: run.tier.name,
      codeDigest: processCodeDigest(run.spec, run.codeFiles),
      inputsDigest: processInputsDigest(run.spec, run.stdin),
      manifest: run.spec.manifest,
      ...(run.agentDid === undefined ? {} : { agentDid: run.agentDid }),
      startedAt,
      error,
    });
    return { started: false, error, statement };
  }
  let interrupted: Interruption | undefined;
  const interrupt = () => {
    interrupted = run.signal?.reason as Interruption;
    void sandbox.stop().catch(() => undefined);
  };
  run.signal?.addEventListener('abort', interrupt, { once: true });
  const { onLimitNotice } = run;
  if (onLimitNotice !== undefined) void sandbox.limitNotice?.then(onLimitNotice);
  // A signal that came while the sandbox was starting stops it now.
  if (run.signal !== undefined && aborted(run.signal)) interrupt();
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  // stderr is the operator's terminal (and stdout too when it is one): control characters go escaped.
  const toTerminal = (sink: Writable | undefined, always: boolean) => {
    if (sink === undefined || !(always || (sink as { isTTY?: boolean }).isTTY === true)) return sink;
    const decoder = new StringDecoder('utf8');
    return { write: (chunk: Buffer) => sink.write(escapeControl(decoder.write(chunk))) };
  };
  const stdoutSink = toTerminal(run.stdoutSink, false);
  const stderrSink = toTerminal(run.stderrSink, true);
  sandbox.stdout.on('data', (chunk: Buffer) => {
    stdout.push(chunk);
    stdoutSink?.write(chunk);
  });
  sandbox.stderr.on('data', (chunk: Buffer) => {
    stderr.push(chunk);
    stderrSink?.write(chunk);
  });
  sandbox.stdin.on('error', () => undefined); // a workload may exit without reading its input
  sandbox.stdin.end(run.stdin ?? Buffer.alloc(0));
  const exit = await sandbox.exit;
  await Promise.all([ended(sandbox.stdout), ended(sandbox.stderr)]);
  const usage = sandbox.usage();
  run.signal?.removeEventListener('abort', interrupt);
  await sandbox.stop();
  const finishedAt = new Date();
  const out = Buffer.concat(stdout);
  const err = Buffer.concat(stderr);
  const statement = buildStatement({
    predicateType: EXECUTION_PREDICATE_TYPE,
    predicate: {
      ...(run.agentDid === undefined ? {} : { agent: { did: run.agentDid } }),
      codeDigest: processCodeDigest(run.spec, run.codeFiles),
      manifestDigest: jcsDigest(run.spec.manifest),
      tier: run.tier.name,
      inputsDigest: processInputsDigest(run.spec, run.stdin),
      outputsDigest: jcsDigest({ stdout: sha256Hex(out), stderr: sha256Hex(err), exit: exitFields(exit) }),
      usage: { ...usage },
      toolCalls: [],
      exit: exitFields(exit),
      ...endedOutcome(exit, interrupted),
      limits: executionLimits(run.spec.manifest),
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
    },
  });
  return { started: true, exit, stdout: out, stderr: err, usage, statement };
}

/** Read through a call: the signal can be aborted while a start is awaited. */
function aborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

function interruptedBy(signal: AbortSignal): string {
  return (signal.reason as Interruption | undefined)?.signal ?? 'aborted';
}

function exitFields(exit: ExitStatus): { code: number | null; signal: string | null; killedBy?: string } {
  return exit.killedBy === undefined
    ? { code: exit.code, signal: exit.signal }
    : { code: exit.code, signal: exit.signal, killedBy: exit.killedBy };
}

function ended(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolvePromise) => {
    if ((stream as { readableEnded?: boolean }).readableEnded === true) return resolvePromise();
    stream.once('end', () => resolvePromise());
    stream.once('close', () => resolvePromise());
    stream.once('error', () => resolvePromise());
  });
}
