import type { CodeRunResult } from '../airlock/sandbox.js';
import { isWasmLimit } from '../airlock/wasm/errors.js';
import type { StandardTier } from '../airlock/wasm/standard-tier.js';
import { EXECUTION_PREDICATE_TYPE } from '../attest/execution.js';
import type { ExecutionStatement } from '../attest/oacp-statement.js';
import { buildStatement } from '../attest/receipt.js';
import type { Manifest } from '../capability/manifest.js';
import { sha256Hex } from '../core/digest.js';
import { describeError, isOacpError } from '../core/errors.js';
import { jcsDigest } from '../core/jcs.js';
import { endedOutcome, executionLimits, type Interruption, refusedExecution } from './execution-facts.js';

export interface CodeRun {
  /** The standard tier, or how to make it (a failure to make it is a refused start, with its receipt). */
  readonly tier: StandardTier | (() => Promise<StandardTier>);
  readonly code: string;
  readonly input?: unknown;
  readonly manifest: Manifest;
  readonly agentDid?: string;
  /** Aborted with an Interruption as its reason: the guest is stopped and the run recorded `interrupted`. */
  readonly signal?: AbortSignal;
}

export type CodeOutcome =
  | { readonly ok: true; readonly result: CodeRunResult; readonly statement: ExecutionStatement }
  | {
      readonly ok: false;
      /** False when the sandbox never started (the statement's outcome is `refused`). */
      readonly started: boolean;
      readonly error: string;
      readonly code: string;
      readonly statement: ExecutionStatement;
    };

export function codeDigestOf(code: string): string {
  return sha256Hex(code);
}

export function codeInputsDigest(input: unknown): string {
  return jcsDigest({ input: input ?? null });
}

/**
 * Runs JavaScript once in a fresh standard-tier sandbox and describes the run
 * as an execution statement, whether it returned, threw, was stopped at a limit
 * (`killedBy` names it, such as WASM_CPU_LIMIT) or never started.
 */
export async function executeCode(run: CodeRun): Promise<CodeOutcome> {
  const startedAt = new Date();
  let sandbox: Awaited<ReturnType<StandardTier['start']>>;
  try {
    const tier = typeof run.tier === 'function' ? await run.tier() : run.tier;
    sandbox = await tier.start({ manifest: run.manifest });
  } catch (error) {
    const statement = refusedExecution({
      tier: 'standard',
      codeDigest: codeDigestOf(run.code),
      inputsDigest: codeInputsDigest(run.input),
      manifest: run.manifest,
      ...(run.agentDid === undefined ? {} : { agentDid: run.agentDid }),
      startedAt,
      error,
    });
    const code = isOacpError(error) ? error.code : 'WASM_UNAVAILABLE';
    return { ok: false, started: false, error: describeError(error), code, statement };
  }
  let interrupted: Interruption | undefined;
  const interrupt = () => {
    interrupted = run.signal?.reason as Interruption;
    void sandbox.stop().catch(() => undefined);
  };
  run.signal?.addEventListener('abort', interrupt, { once: true });
  // A signal that came while the sandbox was starting stops it now.
  if (run.signal?.aborted === true) interrupt();
  let result: CodeRunResult | undefined;
  let failure: { message: string; code: string } | undefined;
  try {
    result = await sandbox.run(run.code, run.input);
  } catch (error) {
    failure = { message: describeError(error), code: isOacpError(error) ? error.code : 'WASM_GUEST_ERROR' };
  }
  run.signal?.removeEventListener('abort', interrupt);
  // After the stop: a run that failed before its guest thread reported (a wall limit hit inside a native
  // call, the thread then terminated) is accounted only once that thread has let go of it (settled()).
  await sandbox.stop();
  const usage = sandbox.usage();
  const finishedAt = new Date();
  const killedBy = failure !== undefined && isWasmLimit(failure.code) ? failure.code : undefined;
  const exit =
    failure === undefined
      ? { code: 0, signal: null }
      : killedBy === undefined
        ? { code: 1, signal: null }
        : { code: 1, signal: null, killedBy };
  const statement = buildStatement({
    predicateType: EXECUTION_PREDICATE_TYPE,
    predicate: {
      ...(run.agentDid === undefined ? {} : { agent: { did: run.agentDid } }),
      codeDigest: codeDigestOf(run.code),
      manifestDigest: jcsDigest(run.manifest),
      tier: 'standard',
      inputsDigest: codeInputsDigest(run.input),
      outputsDigest: jcsDigest(
        result === undefined
          ? { error: failure?.code ?? 'unknown' }
          : { value: result.value ?? null, logs: result.logs },
      ),
      usage: { ...usage },
      toolCalls: [],
      exit,
      ...endedOutcome(
        killedBy === undefined ? {} : { killedBy, detail: failure?.message ?? killedBy },
        interrupted,
      ),
      limits: executionLimits(run.manifest),
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
    },
  });
  if (result !== undefined) return { ok: true, result, statement };
  return {
    ok: false,
    started: true,
    error: failure?.message ?? 'unknown failure',
    code: failure?.code ?? 'WASM_GUEST_ERROR',
    statement,
  };
}
