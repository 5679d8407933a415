import type { Span } from '@opentelemetry/api';
import { QuotaLedger } from '../../airlock/quota/ledger.js';
import type { Usage } from '../../airlock/sandbox.js';
import type { HostBindings } from '../../airlock/wasm/host-bindings.js';
import type { StandardTier } from '../../airlock/wasm/standard-tier.js';
import type { WasmSandbox, WasmSandboxOptions } from '../../airlock/wasm/wasm-sandbox.js';
import type { ReceiptReference } from '../../attest/execution.js';
import { sha256Hex } from '../../core/digest.js';
import { describeError, OacpError } from '../../core/errors.js';
import { jcsDigest } from '../../core/jcs.js';
import type { GatewayMetrics } from '../observability/gateway-metrics.js';
import type { Logger } from '../observability/logger.js';
import type { Tracing } from '../observability/tracing.js';
import { failSpan } from '../observability/tracing.js';
import type { AgentSignerLookup, CallerAgent } from './caller.js';
import type { ContextAccess } from './context-access.js';
import { type EgressFetchOptions, egressFetch } from './egress-fetch.js';
import { RuntimeError, runtimeError } from './errors.js';
import type { GatewayPolicy } from './policy/gateway-policy.js';
import type { GatewayQuotas } from './quotas.js';
import type { ReceiptLink, ReceiptRecorder } from './receipt-recorder.js';
import type { ToolCaller } from './tool-caller.js';
import { type RestartPolicy, Watchdog, type WatchdogEvent } from './watchdog.js';

/** An agent with its program: JavaScript evaluated once when its sandbox starts. */
export interface AgentProgram extends CallerAgent {
  /** Defines the agent (typically a `main(input)` function); null for an agent run only with ad-hoc code. */
  readonly code: string | null;
}

export interface RunRequest {
  /** Code to evaluate in the agent's sandbox; without it, `main(input)` is called. */
  readonly code?: string;
  readonly input?: unknown;
  readonly parent?: Span;
}

export interface AgentRunResult {
  readonly value: unknown;
  readonly logs: readonly string[];
  readonly usage: Usage;
  /** The execution receipt of this run. */
  readonly receipt: ReceiptLink;
  /** Tool-call receipts the run caused, refusals included. */
  readonly toolCalls: readonly ReceiptReference[];
}

export type AgentStatus = 'running' | 'restarting' | 'failed' | 'stopped';

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
  readonly sandbox?: WasmSandboxOptions;
  readonly onEvent?: (event: AgentRuntimeEvent) => void;
}

interface RunState {
  readonly toolCalls: ReceiptReference[];
  readonly span: Span | undefined;
}

interface AgentProcess {
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
 * Runs agents in the standard tier. Each running agent has one sandbox whose
 * only ways out are `oacp.tools.call` (through the ToolCaller, so the same
 * checks, quotas and receipts as any call), `oacp.context.get/put` (its own
 * vault partition), `oacp.log` and `fetch` through the egress gate, each also
 * put to the global policies. Every run, the program's start included, gets an
 * execution receipt naming the tool-call receipts it caused. A sandbox that
 * dies is restarted by the watchdog with backoff until it gives up.
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
   * the watchdog takes over and the agent reports `restarting`.
   */
  async start(
    program: AgentProgram,
    parent?: Span,
    restore?: (sandbox: WasmSandbox) => Promise<void>,
  ): Promise<AgentStatus> {
    if (this.closed) throw runtimeError('RUNTIME_CLOSED', 'the gateway is shutting down');
    const existing = this.processes.get(program.did);
    if (existing !== undefined && existing.status !== 'failed') return existing.status;
    const decision = this.parts.globalPolicy.decide({
      action: 'sandbox/start',
      principal: { id: program.did, attributes: this.principalAttributes(program) },
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
      throw runtimeError('RUNTIME_POLICY_DENIED', `cannot start agent ${program.name}: ${decision.reason}`);
    }
    const process: AgentProcess = {
      program,
      // Rates are charged on the quota engine by the bindings (tool calls, fetch); the sandbox meters per request.
      ledger: new QuotaLedger(program.manifest.quotas, undefined, { rates: 'elsewhere' }),
      sandbox: undefined,
      status: 'restarting',
      queue: Promise.resolve(),
      current: undefined,
      ...(restore === undefined ? {} : { restore }),
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
      const result = await this.execute(
        process,
        sandbox,
        code,
        codeDigest,
        request.input ?? null,
        request.parent,
      );
      this.watchdog.healthy(program.did);
      return result;
    } finally {
      this.parts.metrics.agentRunDuration.observe(
        { agent: program.name },
        (performance.now() - started) / 1000,
      );
    }
  }

  /** Creates the sandbox and evaluates the program; throws when either fails. */
  private async launch(process: AgentProcess, parent?: Span): Promise<void> {
    const program = process.program;
    const sandbox = await this.parts.tier.start({
      manifest: program.manifest,
      ledger: process.ledger,
      bindings: this.bindings(process),
      ...(this.parts.sandbox === undefined ? {} : { options: this.parts.sandbox }),
    });
    try {
      if (program.code !== null) {
        await this.execute(process, sandbox, program.code, sha256Hex(program.code), null, parent);
      }
      const restore = process.restore;
      delete process.restore;
      await restore?.(sandbox);
    } catch (error) {
      await sandbox.stop().catch(() => undefined);
      throw error;
    }
    process.sandbox = sandbox;
    process.status = 'running';
    delete process.failure;
    this.updateRunning();
  }

  /** One run with its execution receipt; a failed run is receipted too, then rethrown with the receipt. */
  private async execute(
    process: AgentProcess,
    sandbox: WasmSandbox,
    code: string,
    codeDigest: string,
    input: unknown,
    parent: Span | undefined,
  ): Promise<AgentRunResult> {
    const program = process.program;
    return this.parts.tracing.inSpan(
      'sandbox run',
      parent,
      { 'oacp.agent': program.name, 'oacp.tier': 'standard' },
      async (span) => {
        const state: RunState = { toolCalls: [], span };
        process.current = state;
        const before = sandbox.usage();
        const startedAt = new Date();
        let outcome:
          | { ok: true; value: unknown; logs: readonly string[]; usage: Usage }
          | { ok: false; error: unknown };
        try {
          const result = await sandbox.run(code, input);
          outcome = { ok: true, value: result.value, logs: result.logs, usage: result.usage };
        } catch (error) {
          outcome = { ok: false, error };
        } finally {
          process.current = undefined;
        }
        const finishedAt = new Date();
        const usage = outcome.ok ? outcome.usage : difference(before, sandbox.usage());
        const errorCode = outcome.ok ? undefined : codeOf(outcome.error);
        const receipt = await this.parts.receipts.execution(
          {
            agent: { did: program.did },
            codeDigest,
            manifestDigest: jcsDigest(program.manifest),
            tier: 'standard',
            inputsDigest: jcsDigest(input ?? null),
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
          this.parts.coSign ? await this.parts.signerOf(program.did) : undefined,
        );
        span.setAttribute('oacp.receipt.index', receipt.index);
        if (!outcome.ok) {
          failSpan(span, outcome.error);
          if (errorCode !== undefined && FATAL.has(errorCode) && process.sandbox === sandbox) {
            process.sandbox = undefined;
            void sandbox.stop().catch(() => undefined);
            this.crashed(process, `${errorCode}: ${describeError(outcome.error)}`);
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

  private bindings(process: AgentProcess): HostBindings {
    const agent = () => process.program;
    const egress =
      process.program.manifest.capabilities.network.allowlist.length === 0
        ? undefined
        : egressFetch(process.program.manifest, this.parts.egress);
    return {
      callTool: async (name, args) => {
        const state = process.current;
        try {
          const outcome = await this.parts.tools.call({
            tool: name,
            arguments: args,
            agent: agent(),
            channel: 'sandbox',
            ...(state?.span === undefined ? {} : { parent: state.span }),
          });
          state?.toolCalls.push({
            logIndex: outcome.receipt.index,
            envelopeDigest: outcome.receipt.envelopeDigest,
          });
          return outcome.result;
        } catch (error) {
          const receipt = error instanceof RuntimeError ? error.details.receipt : undefined;
          if (receipt !== undefined)
            state?.toolCalls.push({ logIndex: receipt.index, envelopeDigest: receipt.envelopeDigest });
          throw error;
        }
      },
      contextGet: async (key) => {
        this.checkContext(agent(), 'context/read', key);
        this.parts.metrics.contextOperations.inc({ operation: 'get', agent: agent().name });
        return (await this.parts.context.get(agent().did, key, agent().did)) ?? null;
      },
      contextPut: async (key, value) => {
        this.checkContext(agent(), 'context/write', key);
        this.parts.metrics.contextOperations.inc({ operation: 'put', agent: agent().name });
        await this.parts.context.put(agent().did, key, value, agent().did);
      },
      log: (entry) =>
        this.parts.logger.info('agent log', {
          agent: agent().name,
          level: entry.level,
          message: entry.message,
        }),
      ...(egress === undefined
        ? {}
        : {
            fetch: async (request) => {
              const url = new URL(request.url);
              const decision = this.parts.globalPolicy.decide({
                action: 'network/fetch',
                principal: { id: agent().did, attributes: this.principalAttributes(agent()) },
                resource: {
                  id: url.hostname,
                  attributes: { port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) },
                },
                context: { method: request.method },
              });
              if (decision.effect === 'deny') {
                this.parts.metrics.security('warning', 'egress_denied');
                throw new Error(`fetch to ${url.origin} denied by global policy: ${decision.reason}`);
              }
              await this.parts.quotas.admitNetworkRequest(agent(), agent().manifest);
              return egress(request);
            },
          }),
    };
  }

  /** Context access by the agent's own code goes through the global policies too. */
  checkContext(
    program: CallerAgent,
    action: 'context/read' | 'context/write',
    key: string,
    signed = true,
  ): void {
    const decision = this.parts.globalPolicy.decide({
      action,
      principal: { id: program.did, attributes: this.principalAttributes(program) },
      resource: { id: `${program.did}/${key}`, attributes: { agent: program.did, key } },
      context: { signed },
    });
    if (decision.effect === 'deny') {
      this.parts.metrics.security('warning', 'context_denied');
      throw runtimeError('RUNTIME_POLICY_DENIED', `${action} of "${key}" denied: ${decision.reason}`);
    }
  }

  private principalAttributes(program: CallerAgent): Record<string, unknown> {
    return {
      ...program.attributes,
      name: program.name,
      tier: 'standard',
      attestation_level: this.parts.coSign ? 2 : 1,
    };
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

function codeOf(error: unknown): string | undefined {
  return error instanceof OacpError ? error.code : undefined;
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
