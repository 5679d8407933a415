import { randomUUID } from 'node:crypto';
import type { Span } from '@opentelemetry/api';
import { NO_USAGE, type Usage } from '../../airlock/sandbox.js';
import type { WasmSandbox } from '../../airlock/wasm/wasm-sandbox.js';
import type { ReceiptReference } from '../../attest/execution.js';
import { describeError, oacpCodeOf } from '../../core/errors.js';
import { jcsDigest } from '../../core/jcs.js';
import type { Tracing } from '../observability/tracing.js';
import { failSpan } from '../observability/tracing.js';
import type { AgentProcess, RunState } from './agent-process.js';
import type { AgentSignerLookup } from './caller.js';
import { RuntimeError } from './errors.js';
import type { ReceiptLink, ReceiptRecorder } from './receipt-recorder.js';

export interface AgentRunResult {
  readonly value: unknown;
  readonly logs: readonly string[];
  readonly usage: Usage;
  /** The execution receipt of this run. */
  readonly receipt: ReceiptLink;
  /** Tool-call receipts the run caused, refusals included. */
  readonly toolCalls: readonly ReceiptReference[];
}

export interface RunParts {
  readonly receipts: ReceiptRecorder;
  readonly tracing: Tracing;
  readonly signerOf: AgentSignerLookup;
  readonly coSign: boolean;
}

export interface RunInput {
  readonly code: string;
  readonly codeDigest: string;
  readonly input: unknown;
  readonly parent: Span | undefined;
}

/** Errors after which the sandbox cannot be trusted to run again: the agent crashed. */
const FATAL = new Set(['WASM_MEMORY_LIMIT', 'WASM_MODULE_POISONED', 'WASM_STOPPED', 'WASM_STACK_LIMIT']);
/** Limits that ended a run; named in the receipt's `exit.killedBy`. */
const LIMITS = new Set([
  'WASM_CPU_LIMIT',
  'WASM_MEMORY_LIMIT',
  'WASM_TIMEOUT',
  'WASM_OUTPUT_LIMIT',
  'WASM_STACK_LIMIT',
]);

/**
 * One run in an agent's sandbox with its execution receipt; a failed run is
 * receipted too, then rethrown with the receipt. A run that ended in a fatal
 * error (the sandbox cannot be trusted again) stops the sandbox and calls
 * `crashed` so the watchdog takes over.
 */
export async function executeRun(
  parts: RunParts,
  process: AgentProcess,
  sandbox: WasmSandbox,
  run: RunInput,
  crashed: (reason: string) => void,
): Promise<AgentRunResult> {
  const program = process.program;
  return parts.tracing.inSpan(
    'sandbox run',
    run.parent,
    { 'oacp.agent': program.name, 'oacp.tier': 'standard' },
    async (span) => {
      const state: RunState = { toolCalls: [], span };
      process.current = state;
      const before = sandbox.usage();
      const startedAt = new Date();
      const intent = randomUUID();
      const facts = {
        agent: { did: program.did },
        codeDigest: run.codeDigest,
        manifestDigest: jcsDigest(program.manifest),
        tier: 'standard',
        inputsDigest: jcsDigest(run.input ?? null),
      } as const;
      try {
        parts.receipts.intendExecution(intent, {
          ...facts,
          outputsDigest: jcsDigest({ interrupted: INTERRUPTED }),
          usage: NO_USAGE,
          toolCalls: [],
          exit: { code: null, signal: null },
          outcome: 'interrupted',
          reason: INTERRUPTED,
          startedAt: startedAt.toISOString(),
          finishedAt: startedAt.toISOString(),
          durationMs: 0,
        });
      } catch (error) {
        process.current = undefined;
        throw new RuntimeError(
          'RUNTIME_RECEIPT_UNAVAILABLE',
          `agent ${program.name} was not run: its receipt could not be secured against a crash (${describeError(error)})`,
        );
      }
      let outcome:
        | { ok: true; value: unknown; logs: readonly string[]; usage: Usage }
        | { ok: false; error: unknown };
      try {
        const result = await sandbox.run(run.code, run.input);
        outcome = { ok: true, value: result.value, logs: result.logs, usage: result.usage };
      } catch (error) {
        outcome = { ok: false, error };
      } finally {
        process.current = undefined;
      }
      const finishedAt = new Date();
      // A failed run may still be computing (a wall limit hit inside a native call): its CPU is in usage() once it let go.
      if (!outcome.ok) await sandbox.settled();
      const usage = outcome.ok ? outcome.usage : difference(before, sandbox.usage());
      const errorCode = outcome.ok ? undefined : oacpCodeOf(outcome.error);
      const receipt = await parts.receipts.execution(
        {
          ...facts,
          outputsDigest: outcome.ok
            ? jcsDigest({ value: outcome.value ?? null, logs: outcome.logs })
            : jcsDigest({ error: { code: errorCode ?? 'ERROR', message: describeError(outcome.error) } }),
          usage,
          toolCalls: state.toolCalls,
          exit: {
            code: outcome.ok ? 0 : 1,
            signal: null,
            ...(errorCode !== undefined && LIMITS.has(errorCode) ? { killedBy: errorCode } : {}),
          },
          startedAt: startedAt.toISOString(),
          finishedAt: finishedAt.toISOString(),
          durationMs: finishedAt.getTime() - startedAt.getTime(),
        },
        program.name,
        parts.coSign ? await parts.signerOf(program.did) : undefined,
        intent,
      );
      span.setAttribute('oacp.receipt.index', receipt.index);
      if (!outcome.ok) {
        failSpan(span, outcome.error);
        if (errorCode !== undefined && FATAL.has(errorCode) && process.sandbox === sandbox) {
          process.sandbox = undefined;
          void sandbox.stop().catch(() => undefined);
          crashed(`${errorCode}: ${describeError(outcome.error)}`);
        }
        throw new RuntimeError(
          'RUNTIME_AGENT_RUN_FAILED',
          `agent ${program.name} run failed: ${describeError(outcome.error)}`,
          { receipt },
          { cause: outcome.error },
        );
      }
      return {
        value: outcome.value ?? null,
        logs: outcome.logs,
        usage,
        receipt,
        toolCalls: state.toolCalls,
      };
    },
  );
}

function difference(before: Usage, after: Usage): Usage {
  return {
    wallMs: Math.max(0, after.wallMs - before.wallMs),
    cpuMs: Math.max(0, after.cpuMs - before.cpuMs),
    memoryPeakBytes: after.memoryPeakBytes,
    egressRequests: Math.max(0, after.egressRequests - before.egressRequests),
    egressDenied: Math.max(0, after.egressDenied - before.egressDenied),
    outputBytes: Math.max(0, after.outputBytes - before.outputBytes),
  };
}

const INTERRUPTED =
  'the gateway ended (killed) while the agent ran; recorded when its home was next opened: how the run ended is unknown';
