import type { Span } from '@opentelemetry/api';
import type { QuotaLedger } from '../../airlock/quota/ledger.js';
import type { WasmSandbox } from '../../airlock/wasm/wasm-sandbox.js';
import type { ReceiptReference } from '../../attest/execution.js';
import type { CallerAgent } from './caller.js';

/** An agent with its program: JavaScript evaluated once when its sandbox starts. */
export interface AgentProgram extends CallerAgent {
  /** Defines the agent (typically a `main(input)` function); null for an agent run only with ad-hoc code. */
  readonly code: string | null;
}

export type AgentStatus = 'running' | 'restarting' | 'failed' | 'stopped';

/** What one run in progress collects: the tool-call receipts it caused, and its trace span. */
export interface RunState {
  readonly toolCalls: ReceiptReference[];
  readonly span: Span | undefined;
}

/**
 * State migrated from another node (src/gateway/runtime/agent-migration.ts) for the agent's
 * first launch here. Exactly one of the two is recorded: `restore` (after the program's code
 * ran) or `abandon`; a second call of either records nothing.
 */
export interface MigratedState {
  /** Puts the state back into the sandbox and writes the migration receipt; throws when it cannot. */
  restore(sandbox: WasmSandbox): Promise<void>;
  /** The state will not come back: a warning and a `restored: false` receipt, never a throw. */
  abandon(reason: string): Promise<void>;
}

/** One started agent: its sandbox (when alive), its status and the queue its runs wait in. */
export interface AgentProcess {
  program: AgentProgram;
  readonly ledger: QuotaLedger;
  sandbox: WasmSandbox | undefined;
  status: AgentStatus;
  failure?: string;
  /** Runs of one sandbox never overlap: each waits for the one before. */
  queue: Promise<unknown>;
  current: RunState | undefined;
  /** State migrated from another node, offered to the next launch only (then dropped, and said so). */
  migrated?: MigratedState;
  /** Handed to another node: runs still queued here are refused, never run. */
  moved?: boolean;
}
