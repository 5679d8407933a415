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
  /** Run once after the program's code at the first launch: state migrated from another node. */
  restore?: (sandbox: WasmSandbox) => Promise<void>;
  /** Handed to another node: runs still queued here are refused, never run. */
  moved?: boolean;
}
