import { randomUUID } from 'node:crypto';
import type { QuickJSHandle } from 'quickjs-emscripten';
import { z } from 'zod';
import type { Manifest } from '../../capability/manifest.js';
import { OacpError } from '../../core/errors.js';
import { type Clock, monotonicClock } from '../quota/clock.js';
import { QuotaLedger } from '../quota/ledger.js';
import type { RequestMeter } from '../quota/request-meter.js';
import { type CodeRunResult, type CodeSandbox, NO_USAGE, type TierName, type Usage } from '../sandbox.js';
import type { WasmErrorCode } from './errors.js';
import { GuestVm } from './guest-vm.js';
import type { HostBindings } from './host-bindings.js';
import { HostBridge } from './host-bridge.js';
import { decodeFromGuest, encodeForGuest, type JsonLimits } from './json-boundary.js';
import type { ModuleLease, QuickJsModulePool } from './module-pool.js';

/**
 * Measured: with the host's own stack shallow, QuickJS in this build overflows
 * the engine's native stack (an unrecoverable RangeError that damages the
 * module) above ~384 KiB of guest stack. 256 KiB keeps a 2x margin and allows
 * ~1,500 levels of plain recursion.
 */
export const MAX_STACK_BYTES = 256 * 1024;

export interface WasmSandboxOptions {
  /** Guest stack (default and maximum 256 KiB). */
  readonly maxStackBytes?: number;
  /** Wall-clock limit for one run, including time spent waiting on host calls (default 30 s). */
  readonly wallTimeoutMs?: number;
  /** Largest JSON value crossing the boundary: input, host answers, guest arguments (default 1 MiB). */
  readonly maxJsonBytes?: number;
  /** Deepest nesting of such a value (default 128). */
  readonly maxJsonDepth?: number;
  /** Time source for CPU accounting (default `performance.now`). */
  readonly clock?: Clock;
}

export interface CodeSpec {
  readonly manifest: Manifest;
  readonly bindings?: HostBindings;
  /** Rate quotas shared with other workloads of the same principal; by default one per sandbox. */
  readonly ledger?: QuotaLedger;
  readonly options?: WasmSandboxOptions;
}

const LogEntry = z.strictObject({ level: z.enum(['info', 'warn', 'error']), message: z.string() });

interface RunState {
  readonly meter: RequestMeter;
  readonly logs: string[];
  outputBytes: number;
}

/**
 * The standard tier's sandbox: JavaScript in QuickJS, compiled to
 * WebAssembly, in its own QuickJSRuntime. It has no ambient authority: no
 * `require`, `process`, file system, network or module loader; the only way
 * out is the host functions the manifest grants, each checked again on every
 * call. State (globals) persists across runs of the same sandbox; runs do not
 * overlap.
 */
export class WasmSandbox implements CodeSandbox {
  readonly kind = 'code' as const;
  readonly tier: TierName = 'standard';
  readonly id = `wasm-${randomUUID()}`;
  private readonly vm: GuestVm;
  private readonly bridge: HostBridge;
  private readonly ledger: QuotaLedger;
  private readonly clock: Clock;
  private readonly limits: JsonLimits;
  private readonly wallTimeoutMs: number;
  private active: RunState | undefined;
  private runDone: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private totals: Usage = NO_USAGE;

  private constructor(
    lease: ModuleLease,
    private readonly spec: CodeSpec,
  ) {
    const options = spec.options ?? {};
    const stackBytes = options.maxStackBytes ?? MAX_STACK_BYTES;
    this.clock = options.clock ?? monotonicClock;
    this.limits = { maxBytes: options.maxJsonBytes ?? 1024 * 1024, maxDepth: options.maxJsonDepth ?? 128 };
    this.wallTimeoutMs = options.wallTimeoutMs ?? 30_000;
    this.ledger = spec.ledger ?? new QuotaLedger(spec.manifest.quotas, this.clock);
    this.bridge = new HostBridge(spec.manifest, spec.bindings ?? {}, this.ledger, this.limits);
    this.vm = new GuestVm(
      lease,
      { memoryBytes: memoryLimitBytes(spec.manifest), stackBytes },
      this.clock,
      this.bridge.grants(),
      (kind, payload) => this.hostCall(kind, payload),
    );
  }

  /** Places a new sandbox in `pool`; refuses options the tier cannot honour rather than weakening them. */
  static async start(pool: QuickJsModulePool, spec: CodeSpec): Promise<WasmSandbox> {
    const stack = spec.options?.maxStackBytes;
    if (stack !== undefined && (stack > MAX_STACK_BYTES || stack < 16 * 1024)) {
      throw new OacpError<WasmErrorCode>(
        'WASM_UNAVAILABLE',
        `a guest stack of ${stack} bytes is outside what the standard tier can enforce safely (16 KiB to 256 KiB)`,
      );
    }
    const lease = await pool.lease(memoryLimitBytes(spec.manifest));
    try {
      return new WasmSandbox(lease, spec);
    } catch (error) {
      lease.release();
      throw error;
    }
  }

  /**
   * Runs `code` as a script; its completion value is the result (a promise
   * is awaited). `input` is available to the guest as the global `input`.
   * Failures are OacpErrors whose code names the limit or rule that stopped
   * the guest (WASM_CPU_LIMIT, WASM_MEMORY_LIMIT, WASM_OUTPUT_LIMIT, ...).
   */
  async run(code: string, input?: unknown): Promise<CodeRunResult> {
    if (this.stopped || this.vm.isDisposed()) {
      const why = this.vm.killReason();
      throw new OacpError<WasmErrorCode>(
        'WASM_STOPPED',
        `sandbox ${this.id} has been stopped${why === undefined ? '' : ` (${why.message})`}`,
      );
    }
    if (this.active !== undefined) {
      throw new OacpError<WasmErrorCode>(
        'WASM_BUSY',
        `sandbox ${this.id} is already running code; runs do not overlap`,
      );
    }
    const run: RunState = { meter: this.ledger.startRequest(), logs: [], outputBytes: 0 };
    this.active = run;
    const done = this.execute(run, code, input);
    this.runDone = done.catch(() => undefined);
    return done;
  }

  usage(): Usage {
    return this.totals;
  }

  /** Ends a run in progress (it fails with WASM_STOPPED) and frees the runtime. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.vm.kill(
      new OacpError<WasmErrorCode>('WASM_STOPPED', `sandbox ${this.id} was stopped during the run`),
    );
    await this.runDone;
    this.vm.dispose();
  }

  private async execute(run: RunState, code: string, input: unknown): Promise<CodeRunResult> {
    const started = this.clock();
    const before = {
      egressRequests: this.bridge.counters.egressRequests,
      egressDenied: this.bridge.counters.egressDenied,
    };
    this.vm.beginRun(this.spec.manifest.quotas.cpu_ms_per_request);
    const timer = setTimeout(() => {
      this.vm.kill(
        new OacpError<WasmErrorCode>(
          'WASM_TIMEOUT',
          `run exceeded its wall-clock limit of ${this.wallTimeoutMs} ms`,
        ),
      );
    }, this.wallTimeoutMs);
    try {
      const value = await this.evaluate(run, code, input);
      return { value, logs: run.logs, usage: this.finish(run, started, before, 0) };
    } catch (error) {
      const hitLimit = error instanceof OacpError && error.code === 'WASM_MEMORY_LIMIT';
      this.finish(run, started, before, hitLimit ? this.vm.limits.memoryBytes : 0);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private async evaluate(run: RunState, code: string, input: unknown): Promise<unknown> {
    // Start from an empty host stack: the guest's recursion limit assumes it.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const inputText = encodeForGuest(input, this.limits, 'input');
    this.vm.slice(() => this.vm.setInput(inputText));
    const handle = this.vm.slice(() => this.vm.evaluate(code));
    let text: string | undefined;
    try {
      const value = await this.settle(handle);
      try {
        text = this.vm.slice(() => this.vm.serialize(value));
      } finally {
        value.dispose();
      }
    } finally {
      handle.dispose();
    }
    return text === undefined ? undefined : this.acceptOutput(run, text);
  }

  /** Closes the books on a run: drops unanswered host calls, samples memory, adds to the totals. */
  private finish(
    run: RunState,
    started: number,
    before: { readonly egressRequests: number; readonly egressDenied: number },
    memoryFloor: number,
  ): Usage {
    this.vm.abandonHostCalls();
    const usage: Usage = {
      wallMs: this.clock() - started,
      cpuMs: this.vm.cpuMs(),
      memoryPeakBytes: Math.max(memoryFloor, this.sampleMemory()),
      egressRequests: this.bridge.counters.egressRequests - before.egressRequests,
      egressDenied: this.bridge.counters.egressDenied - before.egressDenied,
      outputBytes: run.outputBytes,
    };
    this.totals = {
      wallMs: this.totals.wallMs + usage.wallMs,
      cpuMs: this.totals.cpuMs + usage.cpuMs,
      memoryPeakBytes: Math.max(this.totals.memoryPeakBytes, usage.memoryPeakBytes),
      egressRequests: this.totals.egressRequests + usage.egressRequests,
      egressDenied: this.totals.egressDenied + usage.egressDenied,
      outputBytes: this.totals.outputBytes + usage.outputBytes,
    };
    this.active = undefined;
    return usage;
  }

  /** Pumps the guest's jobs and the host's answers until `handle` settles. */
  private async settle(handle: QuickJSHandle): Promise<QuickJSHandle> {
    for (;;) {
      const step = this.vm.slice(() => this.vm.settleStep(handle));
      if (step !== undefined) return step.value;
      const killed = this.vm.killReason();
      if (killed !== undefined) throw killed;
      if (this.vm.hasPendingJob()) continue;
      if (this.vm.pendingHostCalls() === 0) {
        throw new OacpError<WasmErrorCode>(
          'WASM_STALLED',
          'the guest awaits a promise that nothing can settle (no pending jobs, no host calls in flight)',
        );
      }
      await this.vm.waitForHost();
    }
  }

  private acceptOutput(run: RunState, text: string): unknown {
    const bytes = Buffer.byteLength(text, 'utf8');
    const fits = run.meter.check('max_output_bytes', bytes);
    if (fits.effect === 'deny') {
      throw new OacpError<WasmErrorCode>(
        'WASM_OUTPUT_LIMIT',
        `the result (${bytes} bytes) was refused: ${fits.reason}`,
      );
    }
    run.meter.charge('max_output_bytes', bytes);
    run.outputBytes += bytes;
    const limits = { maxBytes: Math.max(bytes, this.limits.maxBytes), maxDepth: this.limits.maxDepth };
    return decodeFromGuest(text, limits, 'the result');
  }

  private hostCall(kind: string, payload: string): Promise<string | undefined> | undefined {
    const run = this.active;
    if (run === undefined) throw new Error('host functions answer only while the sandbox is running');
    if (kind !== 'log') return this.bridge.call(kind, payload);
    const entry = LogEntry.parse(decodeFromGuest(payload, this.limits, 'log entry'));
    const bytes = Buffer.byteLength(entry.message, 'utf8') + 1;
    const fits = run.meter.check('max_output_bytes', bytes);
    if (fits.effect === 'deny') {
      const error = new OacpError<WasmErrorCode>(
        'WASM_OUTPUT_LIMIT',
        `guest output flood stopped: ${fits.reason}`,
      );
      this.vm.kill(error);
      throw error;
    }
    run.meter.charge('max_output_bytes', bytes);
    run.outputBytes += bytes;
    run.logs.push(entry.message);
    this.spec.bindings?.log?.(entry);
    return undefined;
  }

  private sampleMemory(): number {
    try {
      return this.vm.memoryUsedBytes();
    } catch {
      return 0;
    }
  }
}

/** The guest heap limit is the manifest's memory quota, no more, no less. */
export function memoryLimitBytes(manifest: Manifest): number {
  return manifest.quotas.memory_mb * 1024 * 1024;
}
