import type { Span } from '@opentelemetry/api';
import { QuotaLedger } from '../../airlock/quota/ledger.js';
import type { StandardTier } from '../../airlock/wasm/standard-tier.js';
import type { WasmSandbox, WasmSandboxOptions } from '../../airlock/wasm/wasm-sandbox.js';
import { sha256Hex } from '../../core/digest.js';
import { describeError } from '../../core/errors.js';
import type { GatewayMetrics } from '../observability/gateway-metrics.js';
import type { Logger } from '../observability/logger.js';
import type { Tracing } from '../observability/tracing.js';
import { principalAttributes } from './agent-principal.js';
import type { AgentProcess, AgentProgram, AgentStatus, MigratedState } from './agent-process.js';
import { type AgentRunResult, executeRun, type RunInput } from './agent-run.js';
import type { AgentSignerLookup, CallerAgent } from './caller.js';
import type { ContextAccess } from './context-access.js';
import type { EgressFetchOptions } from './egress-fetch.js';
import { runtimeError } from './errors.js';
import type { GatewayPolicy } from './policy/gateway-policy.js';
import type { GatewayQuotas } from './quotas.js';
import type { ReceiptRecorder } from './receipt-recorder.js';
import { type BindingParts, checkContextAccess, sandboxBindings } from './sandbox-bindings.js';
import type { ToolCaller } from './tool-caller.js';
import { type RestartPolicy, Watchdog, type WatchdogEvent } from './watchdog.js';

export type { AgentProgram, AgentStatus, MigratedState } from './agent-process.js';
export type { AgentRunResult } from './agent-run.js';

export interface RunRequest {
  /** Code to evaluate in the agent's sandbox; without it, `main(input)` is called. */
  readonly code?: string;
  readonly input?: unknown;
  readonly parent?: Span;
}

export type AgentRuntimeEvent = WatchdogEvent & { readonly agent: string };

export interface AgentRuntimeParts {
  readonly tier: StandardTier;
  readonly tools: ToolCaller;
  readonly context: ContextAccess;
  readonly quotas: GatewayQuotas;
  readonly receipts: ReceiptRecorder;
  readonly metrics: GatewayMetrics;
  readonly tracing: Tracing;
  readonly globalPolicy: GatewayPolicy;
  readonly signerOf: AgentSignerLookup;
  readonly coSign: boolean;
  readonly logger: Logger;
  readonly restart: RestartPolicy;
  readonly egress?: EgressFetchOptions;
  /** `oacp.models.chat` for the agent's code: the model gateway's pipeline (src/gateway/models/sandbox-chat.ts). */
  readonly modelsChat?: NonNullable<BindingParts['modelsChat']>;
  readonly sandbox?: WasmSandboxOptions;
  readonly onEvent?: (event: AgentRuntimeEvent) => void;
}

/**
 * Runs agents in the standard tier: the lifecycle of each agent's one sandbox
 * (start under the global policies, runs queued one at a time, stop). The
 * sandbox's ways out are in sandbox-bindings.ts; a run and its execution
 * receipt in agent-run.ts. A sandbox that dies is restarted by the watchdog
 * with backoff until it gives up.
 */
export class AgentRuntime {
  private readonly processes = new Map<string, AgentProcess>();
  private readonly watchdog: Watchdog;
  private closed = false;

  constructor(private readonly parts: AgentRuntimeParts) {
    this.watchdog = new Watchdog(parts.restart, (event) => this.onWatchdog(event));
  }

  status(did: string): { status: AgentStatus; failure?: string } {
    const process = this.processes.get(did);
    if (process === undefined) return { status: 'stopped' };
    return process.failure === undefined
      ? { status: process.status }
      : { status: process.status, failure: process.failure };
  }

  /** Agents with a live sandbox. */
  running(): number {
    let count = 0;
    for (const process of this.processes.values()) if (process.sandbox !== undefined) count += 1;
    return count;
  }

  /**
   * Starts the agent's sandbox and evaluates its program. The global policies
   * decide first (`sandbox/start`). A program that throws counts as a crash:
   * the watchdog takes over and the agent reports `restarting`. `migrated`
   * state goes to the first launch only: whatever keeps it from coming back
   * (refused, already running, the launch failed) abandons it, said once, and
   * a restart runs the agent's code alone.
   */
  async start(program: AgentProgram, parent?: Span, migrated?: MigratedState): Promise<AgentStatus> {
    if (this.closed) {
      await migrated?.abandon('the gateway is shutting down');
      throw runtimeError('RUNTIME_CLOSED', 'the gateway is shutting down');
    }
    const existing = this.processes.get(program.did);
    if (existing !== undefined && existing.status !== 'failed') {
      await migrated?.abandon(`the agent was already ${existing.status} here`);
      return existing.status;
    }
    const decision = this.parts.globalPolicy.decide({
      action: 'sandbox/start',
      principal: { id: program.did, attributes: principalAttributes(program, this.parts.coSign) },
      resource: {
        id: program.did,
        attributes: {
          tier: 'standard',
          network_hosts: program.manifest.capabilities.network.allowlist.length,
          tools: program.manifest.capabilities.tools.allow.length,
          memory_mb: program.manifest.quotas.memory_mb,
        },
      },
      context: { running: this.running() },
    });
    if (decision.effect === 'deny') {
      this.parts.metrics.security('warning', 'sandbox_denied');
      const refused = `cannot start agent ${program.name}: ${decision.reason}`;
      await migrated?.abandon(refused);
      throw runtimeError('RUNTIME_POLICY_DENIED', refused);
    }
    const process: AgentProcess = {
      program,
      // Rates are charged on the quota engine by the bindings (tool calls, fetch); the sandbox meters per request.
      ledger: new QuotaLedger(program.manifest.quotas, undefined, { rates: 'elsewhere' }),
      sandbox: undefined,
      status: 'restarting',
      queue: Promise.resolve(),
      current: undefined,
      ...(migrated === undefined ? {} : { migrated }),
    };
    this.processes.set(program.did, process);
    this.watchdog.watch(program.did);
    try {
      await this.launch(process, parent);
      return process.status;
    } catch (error) {
      this.crashed(process, `start failed: ${describeError(error)}`);
      return process.status;
    }
  }

  /** Ends the agent's sandbox (suspend, retire); a pending restart is cancelled. */
  async stop(did: string): Promise<void> {
    const process = this.processes.get(did);
    if (process === undefined) return;
    this.processes.delete(did);
    this.watchdog.forget(did);
    await process.queue.catch(() => undefined);
    await this.dispose(process);
    this.updateRunning();
  }

  /**
   * Gives the agent's sandbox to `fn` after the runs already queued, and
   * runs nothing else meanwhile; when `fn` succeeds the agent stops here
   * (it moved) and runs queued behind it are refused as not running, never
   * run. When `fn` throws, the agent keeps running here.
   */
  async handOver<T>(did: string, fn: (sandbox: WasmSandbox) => Promise<T>): Promise<T> {
    const process = this.processes.get(did);
    if (process === undefined)
      throw runtimeError('RUNTIME_AGENT_NOT_RUNNING', `agent ${did} is not running here`);
    const turn = process.queue.then(async () => {
      const sandbox = process.sandbox;
      if (sandbox === undefined || process.status !== 'running' || this.processes.get(did) !== process)
        throw runtimeError('RUNTIME_AGENT_NOT_RUNNING', `agent ${process.program.name} is not running here`);
      const result = await fn(sandbox);
      process.moved = true;
      this.processes.delete(did);
      this.watchdog.forget(did);
      await this.dispose(process);
      this.updateRunning();
      return result;
    });
    process.queue = turn.catch(() => undefined);
    return turn;
  }

  /** Runs code (or `main(input)`) in the agent's sandbox, after any run already queued for it. */
  async run(did: string, request: RunRequest): Promise<AgentRunResult> {
    const process = this.processes.get(did);
    if (process === undefined)
      throw runtimeError('RUNTIME_AGENT_NOT_RUNNING', `agent ${did} is not running; start it first`);
    const turn = process.queue.then(() => this.runNow(process, request));
    process.queue = turn.catch(() => undefined);
    return turn;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watchdog.close();
    await Promise.allSettled([...this.processes.keys()].map((did) => this.stop(did)));
  }

  private async runNow(process: AgentProcess, request: RunRequest): Promise<AgentRunResult> {
    const program = process.program;
    if (process.moved) {
      // Moved to another node while this run waited: it never ran here.
      throw runtimeError('RUNTIME_AGENT_NOT_RUNNING', `agent ${program.name} is not running here`);
    }
    if (process.status === 'failed') {
      throw runtimeError(
        'RUNTIME_AGENT_FAILED',
        `agent ${program.name} crashed and the watchdog gave up: ${process.failure ?? 'unknown'}`,
      );
    }
    const sandbox = process.sandbox;
    if (sandbox === undefined || process.status !== 'running') {
      const error = runtimeError(
        'RUNTIME_AGENT_RESTARTING',
        `agent ${program.name} is restarting after a crash; retry shortly`,
      );
      throw error;
    }
    const code = request.code ?? 'main(input)';
    const codeDigest = sha256Hex(request.code ?? program.code ?? code);
    const started = performance.now();
    try {
      const result = await this.execute(process, sandbox, {
        code,
        codeDigest,
        input: request.input ?? null,
        parent: request.parent,
      });
      this.watchdog.healthy(program.did);
      return result;
    } finally {
      this.parts.metrics.agentRunDuration.observe(
        { agent: program.name },
        (performance.now() - started) / 1000,
      );
    }
  }

  /**
   * Creates the sandbox, evaluates the program and puts migrated state back; throws when any
   * fails. Migrated state is offered to this launch only: when it fails, the state is abandoned
   * (a warning and a `restored: false` receipt) and the watchdog's restart runs the code alone.
   */
  private async launch(process: AgentProcess, parent?: Span): Promise<void> {
    const program = process.program;
    const migrated = process.migrated;
    delete process.migrated;
    let sandbox: WasmSandbox | undefined;
    try {
      sandbox = await this.parts.tier.start({
        manifest: program.manifest,
        ledger: process.ledger,
        bindings: sandboxBindings(this.parts, process),
        ...(this.parts.sandbox === undefined ? {} : { options: this.parts.sandbox }),
      });
      if (program.code !== null) {
        // A load that fails throws out of launch, and start() or the watchdog counts that crash:
        // the run reporting it too would say it twice.
        const load = { code: program.code, codeDigest: sha256Hex(program.code), input: null, parent };
        await executeRun(this.parts, process, sandbox, load, () => undefined);
      }
      await migrated?.restore(sandbox);
    } catch (error) {
      await sandbox?.stop().catch(() => undefined);
      await migrated?.abandon(`the agent's sandbox did not start with it: ${describeError(error)}`);
      throw error;
    }
    process.sandbox = sandbox;
    process.status = 'running';
    delete process.failure;
    this.updateRunning();
  }

  /** Context access by the agent's own code goes through the global policies too. */
  checkContext(
    program: CallerAgent,
    action: 'context/read' | 'context/write',
    key: string,
    signed = true,
  ): void {
    checkContextAccess(this.parts, program, action, key, signed);
  }

  private execute(process: AgentProcess, sandbox: WasmSandbox, run: RunInput): Promise<AgentRunResult> {
    return executeRun(this.parts, process, sandbox, run, (reason) => this.crashed(process, reason));
  }

  private crashed(process: AgentProcess, reason: string): void {
    process.status = 'restarting';
    process.sandbox = undefined;
    this.updateRunning();
    this.parts.logger.warn('agent crashed', { agent: process.program.name, reason });
    this.parts.metrics.security('warning', 'agent_crashed');
    const restart = async () => {
      if (this.processes.get(process.program.did) !== process) return;
      await this.launch(process);
    };
    if (!this.watchdog.crashed(process.program.did, reason, restart)) {
      process.status = 'failed';
      process.failure = reason;
    }
  }

  private onWatchdog(event: WatchdogEvent): void {
    const process = this.processes.get(event.key);
    const agent = process?.program.name ?? event.key;
    if (event.type === 'restarted') this.parts.metrics.agentRestarts.inc({ agent });
    if (event.type === 'gave-up' && process !== undefined) {
      process.status = 'failed';
      process.failure = event.reason;
      this.parts.logger.error('agent failed: the watchdog gave up', {
        agent,
        crashes: event.crashes,
        reason: event.reason,
      });
    }
    this.parts.onEvent?.({ ...event, agent });
  }

  private async dispose(process: AgentProcess): Promise<void> {
    const sandbox = process.sandbox;
    process.sandbox = undefined;
    process.status = 'stopped';
    if (sandbox !== undefined) await sandbox.stop().catch(() => undefined);
  }

  private updateRunning(): void {
    this.parts.metrics.setAgentsRunning(this.running());
  }
}
