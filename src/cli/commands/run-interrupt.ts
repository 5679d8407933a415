import { constants } from 'node:os';
import type { ExecutionStatement } from '../../attest/oacp-statement.js';
import type { Interruption } from '../../run/execution-facts.js';

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * SIGINT, SIGTERM and SIGHUP stop the workload instead of `oacp`, so the run
 * still ends with its receipt (outcome `interrupted`); the same signal a
 * second time ends `oacp` at once, as usual.
 */
export function interruptOnSignals(): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handlers = FORWARDED.map((name) => {
    const handler = () => controller.abort({ signal: name } satisfies Interruption);
    process.once(name, handler);
    return [name, handler] as const;
  });
  return {
    signal: controller.signal,
    dispose: () => {
      for (const [name, handler] of handlers) process.off(name, handler);
    },
  };
}

/**
 * The shell's convention: a run that ended by a signal, or that `oacp` stopped
 * because it received one, exits 128 + that signal's number.
 */
export function runExitCode(
  statement: ExecutionStatement,
  exit: { readonly code: number | null; readonly signal: string | null },
  interruption: AbortSignal,
): number {
  if (statement.predicate.outcome === 'interrupted') {
    return 128 + signalNumber((interruption.reason as Interruption | undefined)?.signal ?? 'SIGTERM');
  }
  if (exit.code !== null) return exit.code;
  return exit.signal === null ? 1 : 128 + signalNumber(exit.signal);
}

function signalNumber(name: string): number {
  return (constants.signals as Record<string, number | undefined>)[name] ?? 0;
}
