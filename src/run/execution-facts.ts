import {
  EXECUTION_PREDICATE_TYPE,
  type ExecutionLimits,
  type ExecutionOutcome,
} from '../attest/execution.js';
import type { ExecutionStatement } from '../attest/oacp-statement.js';
import { type BuildStatementInput, buildStatement } from '../attest/receipt.js';
import type { Manifest } from '../capability/manifest.js';
import { clipText } from '../core/clip-text.js';
import { describeError } from '../core/errors.js';
import { jcsDigest } from '../core/jcs.js';

/** The manifest's quotas a run is held to, as its receipt names them. */
export function executionLimits(manifest: Manifest): ExecutionLimits {
  const q = manifest.quotas;
  return {
    memoryMb: q.memory_mb,
    cpuMsPerRequest: q.cpu_ms_per_request,
    cpuMsTotal: q.cpu_ms_total,
    startupCpuMs: q.startup_cpu_ms,
    maxPids: q.max_pids,
    maxOpenFiles: q.max_open_files,
    maxOutputBytes: q.max_output_bytes,
    tmpMb: q.tmp_mb,
    diskIoMbPerS: q.disk_io_mb_per_s,
    unenforced: [...q.allow_unenforced],
  };
}

/** Why a run was interrupted: the signal `oacp` received, which stopped the workload. */
export interface Interruption {
  readonly signal: NodeJS.Signals;
}

/** How a run that started ended, and why when OACP ended it. */
export function endedOutcome(
  exit: { readonly killedBy?: string; readonly detail?: string },
  interrupted: Interruption | undefined,
): { outcome: ExecutionOutcome; reason?: string } {
  if (exit.killedBy !== undefined) {
    const reason =
      exit.detail === undefined || exit.detail === ''
        ? `stopped by the Airlock (${exit.killedBy})`
        : exit.detail;
    return { outcome: 'killed', reason: clip(reason) };
  }
  if (interrupted !== undefined) {
    return { outcome: 'interrupted', reason: `oacp received ${interrupted.signal} and stopped the workload` };
  }
  return { outcome: 'exited' };
}

export interface RefusedRun {
  readonly tier: ExecutionStatement['predicate']['tier'];
  readonly codeDigest: string;
  readonly inputsDigest: string;
  readonly manifest: Manifest;
  readonly agentDid?: string;
  readonly startedAt: Date;
  /** What refused the start (a policy, a grant, the tier, the receipt log). */
  readonly error: unknown;
}

/**
 * The receipt of a run that never started: nothing ran, nothing came out, and
 * `reason` says what refused it.
 */
export function refusedExecution(run: RefusedRun): ExecutionStatement {
  const reason = clip(describeError(run.error)) || 'refused';
  return buildStatement(unranExecution(run, 'refused', reason, { refused: reason }, new Date()));
}

/** At most the 4,096 UTF-16 units a receipt's reason holds, never ending in half a surrogate pair. */
function clip(text: string): string {
  return clipText(text, 4096);
}

/**
 * What the receipt of a run says if `oacp` dies (kill -9) while its workload runs: recorded from
 * this intent (node/intent-journal.ts) by the next process to open the home. It started; how it
 * ended and what it printed are unknown.
 */
export function interruptedExecution(run: Omit<RefusedRun, 'error'>): BuildStatementInput {
  return unranExecution(
    run,
    'interrupted',
    INTERRUPTED_REASON,
    { interrupted: INTERRUPTED_REASON },
    run.startedAt,
  );
}

/** A run's execution predicate when nothing of its own is known: no usage, no exit, no output but `outputs`. */
function unranExecution(
  run: Omit<RefusedRun, 'error'>,
  outcome: 'refused' | 'interrupted',
  reason: string,
  outputs: Record<string, string>,
  finishedAt: Date,
): Extract<BuildStatementInput, { predicateType: typeof EXECUTION_PREDICATE_TYPE }> {
  return {
    predicateType: EXECUTION_PREDICATE_TYPE,
    predicate: {
      ...(run.agentDid === undefined ? {} : { agent: { did: run.agentDid } }),
      codeDigest: run.codeDigest,
      manifestDigest: jcsDigest(run.manifest),
      tier: run.tier,
      inputsDigest: run.inputsDigest,
      outputsDigest: jcsDigest(outputs),
      usage: { wallMs: 0, cpuMs: 0, memoryPeakBytes: 0, egressRequests: 0, egressDenied: 0, outputBytes: 0 },
      toolCalls: [],
      exit: { code: null, signal: null },
      outcome,
      reason,
      limits: executionLimits(run.manifest),
      startedAt: run.startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - run.startedAt.getTime(),
    },
  };
}

const INTERRUPTED_REASON =
  'oacp ended (killed) while the workload ran; recorded when the home was next opened: how it ended is unknown';
