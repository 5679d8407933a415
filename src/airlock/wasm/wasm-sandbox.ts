import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Manifest } from '../../capability/manifest.js';
import { OacpError } from '../../core/errors.js';
import { type Clock, monotonicClock } from '../quota/clock.js';
import { QuotaLedger } from '../quota/ledger.js';
import type { RequestMeter } from '../quota/request-meter.js';
import { type CodeRunResult, type CodeSandbox, NO_USAGE, type TierName, type Usage } from '../sandbox.js';
import type { WasmErrorCode } from './errors.js';
import type { GuestThread, ThreadGuest, ThreadLoss } from './guest-thread.js';
import type { HostBindings } from './host-bindings.js';
import { HostBridge } from './host-bridge.js';
import { decodeFromGuest, encodeForGuest, type JsonLimits } from './json-boundary.js';
import type { GuestThreadPool } from './thread-pool.js';
import type { FromGuestThread, RunDone } from './thread-protocol.js';

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
  /** Time source for wall time and rate quotas (default `performance.now`); guest CPU is measured in its thread. */
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

interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

interface RunState {
  readonly meter: RequestMeter;
  readonly logs: string[];
  readonly started: number;
  readonly before: { readonly egressRequests: number; readonly egressDenied: number };
  /** Settles when the guest thread reports the run finished (or the thread is gone). */
  readonly done: Deferred<RunDone>;
  /** Rejects the moment the gateway stops the run (wall clock, output, stop, lost thread). */
  readonly interrupted: Deferred<never>;
  outputBytes: number;
  killed?: OacpError;
  /** What the guest thread reported, once it has. */
  finished?: RunDone;
  /** CPU the run had used when its thread was terminated before it could report, as the watchdog measured it. */
  lostCpuMs?: number;
  usage?: Usage;
}

/**
 * The standard tier's sandbox: JavaScript in QuickJS, compiled to
 * WebAssembly, in its own QuickJSRuntime on a guest thread. It has no
 * ambient authority: no `require`, `process`, file system, network or
 * module loader; the only way out is the host functions the manifest grants,
 * each checked again on every call, here on the gateway's thread. State
 * (globals) persists across runs of the same sandbox; runs do not overlap.
 * Wall-clock limits are enforced here, so they fire on time whatever the
 * guest thread is doing; see docs/standard-tier.md.
 */
export class WasmSandbox implements CodeSandbox, ThreadGuest {
  readonly kind = 'code' as const;
  readonly tier: TierName = 'standard';
  readonly id = `wasm-${randomUUID()}`;
  private readonly guest: number;
  private readonly bridge: HostBridge;
  private readonly ledger: QuotaLedger;
  private readonly clock: Clock;
  private readonly limits: JsonLimits;
  private readonly wallTimeoutMs: number;
  private readonly created = deferred<void>();
  private readonly stopped = deferred<void>();
  private active: RunState | undefined;
  /** The run the guest thread is executing; it may outlive `active` when the gateway stopped it first. */
  private inThread: RunState | undefined;
  /** The guest thread's side of the last run; a new run waits for it. */
  private threadIdle: Promise<unknown> = Promise.resolve();
  private stopping = false;
  private lostWith: OacpError | undefined;
  private totals: Usage = NO_USAGE;

  private constructor(
    private readonly thread: GuestThread,
    private readonly spec: CodeSpec,
  ) {
    const options = spec.options ?? {};
    this.clock = options.clock ?? monotonicClock;
    this.limits = { maxBytes: options.maxJsonBytes ?? 1024 * 1024, maxDepth: options.maxJsonDepth ?? 128 };
    this.wallTimeoutMs = options.wallTimeoutMs ?? 30_000;
    this.ledger = spec.ledger ?? new QuotaLedger(spec.manifest.quotas, this.clock);
    this.bridge = new HostBridge(spec.manifest, spec.bindings ?? {}, this.ledger, this.limits);
    this.guest = thread.attach(this);
  }

  /** Places a new sandbox on a guest thread; refuses options the tier cannot honour rather than weakening them. */
  static async start(pool: GuestThreadPool, spec: CodeSpec): Promise<WasmSandbox> {
    const stack = spec.options?.maxStackBytes;
    if (stack !== undefined && (stack > MAX_STACK_BYTES || stack < 16 * 1024)) {
      throw new OacpError<WasmErrorCode>(
        'WASM_UNAVAILABLE',
        `a guest stack of ${stack} bytes is outside what the standard tier can enforce safely (16 KiB to 256 KiB)`,
      );
    }
    const thread = await pool.place();
    const sandbox = new WasmSandbox(thread, spec);
    thread.post({
      type: 'create',
      guest: sandbox.guest,
      memoryBytes: memoryLimitBytes(spec.manifest),
      stackBytes: stack ?? MAX_STACK_BYTES,
      grants: sandbox.bridge.grants(),
    });
    try {
      await sandbox.created.promise;
    } catch (error) {
      thread.detach(sandbox.guest);
      throw error;
    }
    return sandbox;
  }

  /**
   * Runs `code` as a script; its completion value is the result (a promise
   * is awaited). `input` is available to the guest as the global `input`.
   * Failures are OacpErrors whose code names the limit or rule that stopped
   * the guest (WASM_CPU_LIMIT, WASM_MEMORY_LIMIT, WASM_OUTPUT_LIMIT, ...).
   */
  async run(code: string, input?: unknown): Promise<CodeRunResult> {
    if (this.stopping || this.lostWith !== undefined) {
      const why = this.lostWith === undefined ? '' : ` (${this.lostWith.message})`;
      throw new OacpError<WasmErrorCode>('WASM_STOPPED', `sandbox ${this.id} has been stopped${why}`);
    }
    if (this.active !== undefined) {
      throw new OacpError<WasmErrorCode>(
        'WASM_BUSY',
        `sandbox ${this.id} is already running code; runs do not overlap`,
      );
    }
    const run: RunState = {
      meter: this.ledger.startRequest(),
      logs: [],
      started: this.clock(),
      before: {
        egressRequests: this.bridge.counters.egressRequests,
        egressDenied: this.bridge.counters.egressDenied,
      },
      done: deferred(),
      interrupted: deferred(),
      outputBytes: 0,
    };
    this.active = run;
    const timer = setTimeout(() => {
      this.interrupt(
        run,
        new OacpError<WasmErrorCode>(
          'WASM_TIMEOUT',
          `run exceeded its wall-clock limit of ${this.wallTimeoutMs} ms`,
        ),
      );
    }, this.wallTimeoutMs);
    try {
      const work = this.dispatch(run, code, input);
      work.catch(() => undefined);
      const outcome = await Promise.race([work, run.interrupted.promise]);
      const value = this.acceptOutput(run, outcome);
      return { value, logs: run.logs, usage: this.account(run) };
    } catch (error) {
      // Stopped before the guest thread reported: the report is accounted when it comes. A thread
      // terminated under the run (lost) reports nothing: what the watchdog measured is accounted now.
      if (run.finished !== undefined || run.lostCpuMs !== undefined) this.account(run);
      throw error;
    } finally {
      clearTimeout(timer);
      if (this.active === run) this.active = undefined;
    }
  }

  usage(): Usage {
    return this.totals;
  }

  /**
   * Resolves once the guest thread has let go of the last run, so `usage()` includes it: a run that
   * failed on its wall limit returns at once, while its guest may compute on (inside a native call,
   * until its thread is terminated) and is accounted only then.
   */
  async settled(): Promise<void> {
    await this.threadIdle;
  }

  /** Ends a run in progress (it fails with WASM_STOPPED) and frees the runtime. */
  async stop(): Promise<void> {
    if (this.stopping) return this.stopped.promise;
    this.stopping = true;
    const run = this.active;
    const error = new OacpError<WasmErrorCode>(
      'WASM_STOPPED',
      `sandbox ${this.id} was stopped during the run`,
    );
    // The run fails once the guest thread has let go of it, as stop() returns.
    if (run !== undefined) this.interrupt(run, error, false);
    await this.threadIdle;
    if (this.lostWith === undefined) {
      this.thread.post({ type: 'stop', guest: this.guest });
      await this.stopped.promise;
    }
    this.thread.detach(this.guest);
    this.stopped.resolve();
    run?.interrupted.reject(run.killed ?? error);
  }

  /** A message from the guest thread about this sandbox. */
  receive(message: FromGuestThread): void {
    switch (message.type) {
      case 'created':
        this.created.resolve();
        break;
      case 'refused':
        this.created.reject(new OacpError<WasmErrorCode>(wasmCode(message.code), message.message));
        break;
      case 'call':
        this.hostCall(message.call, message.kind, message.payload);
        break;
      case 'log':
        this.log(message.payload);
        break;
      case 'done': {
        const run = this.inThread;
        this.inThread = undefined;
        if (run === undefined) break;
        run.finished = message;
        run.done.resolve(message);
        break;
      }
      case 'stopped':
        this.stopped.resolve();
        break;
    }
  }

  /** The guest thread was terminated: this guest's state is gone. */
  lost(loss: ThreadLoss): void {
    const error = this.lossError(loss);
    this.lostWith = error;
    this.created.reject(error);
    this.stopped.resolve();
    const run = this.active;
    if (run !== undefined) this.interrupt(run, error);
    const inThread = this.inThread ?? run;
    this.inThread = undefined;
    if (inThread !== undefined && loss.cpuMs !== undefined) inThread.lostCpuMs = loss.cpuMs;
    inThread?.done.reject(inThread.killed ?? error);
  }

  private async dispatch(run: RunState, code: string, input: unknown): Promise<RunDone> {
    const inputText = encodeForGuest(input, this.limits, 'input');
    await this.threadIdle;
    if (run.killed !== undefined) return run.interrupted.promise;
    if (this.lostWith !== undefined) throw this.lostWith;
    const accountLate = () => {
      if (this.active !== run) this.account(run);
    };
    this.threadIdle = run.done.promise.then(accountLate, accountLate);
    this.inThread = run;
    this.thread.post({
      type: 'run',
      guest: this.guest,
      code,
      inputText,
      cpuLimitMs: this.spec.manifest.quotas.cpu_ms_per_request,
      // Log payloads carry some JSON framing; twice the quota is a backstop against a flood, never the exact check.
      logBudgetBytes: 2 * run.meter.remaining('max_output_bytes') + 64 * 1024,
      maxResultBytes: run.meter.remaining('max_output_bytes'),
    });
    let done: RunDone;
    try {
      done = await run.done.promise;
    } catch (error) {
      if (run.killed !== undefined) return run.interrupted.promise;
      throw error;
    }
    // Stopped by the gateway: its reason, not the guest thread's view of the interruption.
    if (run.killed !== undefined) return run.interrupted.promise;
    if (done.failure !== undefined) {
      throw new OacpError<WasmErrorCode>(wasmCode(done.failure.code), done.failure.message);
    }
    return done;
  }

  /** Stops the run in the guest thread at its next interrupt check, and (unless told not to) for the caller now. */
  private interrupt(run: RunState, error: OacpError, now = true): void {
    if (run.killed !== undefined) return;
    run.killed = error;
    if (now) run.interrupted.reject(error);
    if (this.lostWith !== undefined) return;
    this.thread.requestStop(this.guest);
    this.thread.post({
      type: 'kill',
      guest: this.guest,
      code: error.code as WasmErrorCode,
      message: error.message,
    });
  }

  /** Adds a finished run to the totals once; returns that run's usage. */
  private account(run: RunState): Usage {
    if (run.usage !== undefined) return run.usage;
    const done = run.finished;
    const usage: Usage = {
      wallMs: this.clock() - run.started,
      cpuMs: done?.cpuMs ?? run.lostCpuMs ?? 0,
      memoryPeakBytes: done?.memoryBytes ?? 0,
      egressRequests: this.bridge.counters.egressRequests - run.before.egressRequests,
      egressDenied: this.bridge.counters.egressDenied - run.before.egressDenied,
      outputBytes: run.outputBytes,
    };
    run.usage = usage;
    this.totals = {
      wallMs: this.totals.wallMs + usage.wallMs,
      cpuMs: this.totals.cpuMs + usage.cpuMs,
      memoryPeakBytes: Math.max(this.totals.memoryPeakBytes, usage.memoryPeakBytes),
      egressRequests: this.totals.egressRequests + usage.egressRequests,
      egressDenied: this.totals.egressDenied + usage.egressDenied,
      outputBytes: this.totals.outputBytes + usage.outputBytes,
    };
    return usage;
  }

  private acceptOutput(run: RunState, outcome: RunDone): unknown {
    const text = outcome.text;
    if (text === undefined && outcome.oversizedResultBytes === undefined) return undefined;
    const bytes = outcome.oversizedResultBytes ?? Buffer.byteLength(text ?? '', 'utf8');
    const fits = run.meter.check('max_output_bytes', bytes);
    if (fits.effect === 'deny') {
      throw new OacpError<WasmErrorCode>(
        'WASM_OUTPUT_LIMIT',
        `the result (${bytes} bytes) was refused: ${fits.reason}`,
      );
    }
    if (text === undefined) {
      throw new OacpError<WasmErrorCode>('WASM_OUTPUT_LIMIT', `the result (${bytes} bytes) was refused`);
    }
    run.meter.charge('max_output_bytes', bytes);
    run.outputBytes += bytes;
    const limits = { maxBytes: Math.max(bytes, this.limits.maxBytes), maxDepth: this.limits.maxDepth };
    return decodeFromGuest(text, limits, 'the result');
  }

  private hostCall(call: number, kind: string, payload: string): void {
    const run = this.active;
    const answer =
      run === undefined || run.killed !== undefined
        ? Promise.reject(new Error('host functions answer only while the sandbox is running'))
        : this.bridge.call(kind, payload);
    answer.then(
      (value) =>
        this.thread.post({
          type: 'answer',
          guest: this.guest,
          call,
          ...(value === undefined ? {} : { value }),
        }),
      (error: unknown) =>
        this.thread.post({
          type: 'answer',
          guest: this.guest,
          call,
          error: error instanceof Error ? error.message : String(error),
        }),
    );
  }

  private log(payload: string): void {
    const run = this.active;
    if (run === undefined || run.killed !== undefined) return;
    let entry: z.infer<typeof LogEntry>;
    try {
      entry = LogEntry.parse(decodeFromGuest(payload, this.limits, 'log entry'));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.interrupt(
        run,
        new OacpError<WasmErrorCode>('WASM_BAD_VALUE', `a log entry was refused: ${reason}`),
      );
      return;
    }
    const bytes = Buffer.byteLength(entry.message, 'utf8') + 1;
    const fits = run.meter.check('max_output_bytes', bytes);
    if (fits.effect === 'deny') {
      this.interrupt(
        run,
        new OacpError<WasmErrorCode>('WASM_OUTPUT_LIMIT', `guest output flood stopped: ${fits.reason}`),
      );
      return;
    }
    run.meter.charge('max_output_bytes', bytes);
    run.outputBytes += bytes;
    run.logs.push(entry.message);
    this.spec.bindings?.log?.(entry);
  }

  private lossError(loss: ThreadLoss): OacpError {
    if (loss.offender && loss.limit === 'cpu') {
      const limit = this.spec.manifest.quotas.cpu_ms_per_request;
      return new OacpError<WasmErrorCode>(
        'WASM_CPU_LIMIT',
        `guest used its CPU limit of ${limit} ms per request (quota cpu_ms_per_request) inside a native built-in that does not check for interrupts; its guest thread was terminated`,
      );
    }
    if (loss.offender && this.active?.killed !== undefined) return this.active.killed;
    return new OacpError<WasmErrorCode>(
      'WASM_STOPPED',
      `sandbox ${this.id} was lost: ${loss.offender ? 'its' : 'the'} guest thread was terminated because ${loss.reason}`,
    );
  }
}

const CODES: ReadonlySet<string> = new Set<WasmErrorCode>([
  'WASM_UNAVAILABLE',
  'WASM_CPU_LIMIT',
  'WASM_MEMORY_LIMIT',
  'WASM_STACK_LIMIT',
  'WASM_OUTPUT_LIMIT',
  'WASM_TIMEOUT',
  'WASM_STALLED',
  'WASM_GUEST_ERROR',
  'WASM_BAD_INPUT',
  'WASM_BAD_VALUE',
  'WASM_BUSY',
  'WASM_STOPPED',
  'WASM_MODULE_POISONED',
]);

/** A code from the guest thread, kept only if it is one of ours. */
function wasmCode(code: string): WasmErrorCode {
  return CODES.has(code) ? (code as WasmErrorCode) : 'WASM_GUEST_ERROR';
}

/** The guest heap limit is the manifest's memory quota, no more, no less. */
export function memoryLimitBytes(manifest: Manifest): number {
  return manifest.quotas.memory_mb * 1024 * 1024;
}
