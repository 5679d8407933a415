import type { CodeRunResult } from '../airlock/sandbox.js';
import type { StandardTier } from '../airlock/wasm/standard-tier.js';
import { EXECUTION_PREDICATE_TYPE } from '../attest/execution.js';
import type { ExecutionStatement } from '../attest/oacp-statement.js';
import { buildStatement } from '../attest/receipt.js';
import type { Manifest } from '../capability/manifest.js';
import { sha256Hex } from '../core/digest.js';
import { describeError, isOacpError } from '../core/errors.js';
import { jcsDigest } from '../core/jcs.js';

export interface CodeRun {
  readonly tier: StandardTier;
  readonly code: string;
  readonly input?: unknown;
  readonly manifest: Manifest;
  readonly agentDid?: string;
}

export type CodeOutcome =
  | { readonly ok: true; readonly result: CodeRunResult; readonly statement: ExecutionStatement }
  | {
      readonly ok: false;
      readonly error: string;
      readonly code: string;
      readonly statement: ExecutionStatement;
    };

/**
 * Runs JavaScript once in a fresh standard-tier sandbox and describes the run
 * as an execution statement, whether it returned or was stopped (the failure,
 * such as WASM_CPU_LIMIT, is recorded as `killedBy`).
 */
export async function executeCode(run: CodeRun): Promise<CodeOutcome> {
  const startedAt = new Date();
  const sandbox = await run.tier.start({ manifest: run.manifest });
  let result: CodeRunResult | undefined;
  let failure: { message: string; code: string } | undefined;
  try {
    result = await sandbox.run(run.code, run.input);
  } catch (error) {
    failure = { message: describeError(error), code: isOacpError(error) ? error.code : 'WASM_GUEST_ERROR' };
  }
  const usage = sandbox.usage();
  await sandbox.stop();
  const finishedAt = new Date();
  const exit =
    failure === undefined ? { code: 0, signal: null } : { code: 1, signal: null, killedBy: failure.code };
  const statement = buildStatement({
    predicateType: EXECUTION_PREDICATE_TYPE,
    predicate: {
      ...(run.agentDid === undefined ? {} : { agent: { did: run.agentDid } }),
      codeDigest: sha256Hex(run.code),
      manifestDigest: jcsDigest(run.manifest),
      tier: 'standard',
      inputsDigest: jcsDigest({ input: run.input ?? null }),
      outputsDigest: jcsDigest(
        result === undefined
          ? { error: failure?.code ?? 'unknown' }
          : { value: result.value ?? null, logs: result.logs },
      ),
      usage: { ...usage },
      toolCalls: [],
      exit,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
    },
  });
  if (result !== undefined) return { ok: true, result, statement };
  return {
    ok: false,
    error: failure?.message ?? 'unknown failure',
    code: failure?.code ?? 'WASM_GUEST_ERROR',
    statement,
  };
}
