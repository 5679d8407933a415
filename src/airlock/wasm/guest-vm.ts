import type {
  QuickJSContext,
  QuickJSDeferredPromise,
  QuickJSHandle,
  QuickJSRuntime,
} from 'quickjs-emscripten';
import { clipText } from '../../core/clip-text.js';
import { OacpError } from '../../core/errors.js';
import type { Clock } from '../quota/clock.js';
import type { WasmErrorCode } from './errors.js';
import type { ModuleLease } from './module-pool.js';
import { type Grants, PRELUDE } from './prelude.js';
import type { SliceWatch } from './slice-board.js';

/** A host function call from the guest: undefined for synchronous ones (log), else the JSON answer to come. */
export type HostCall = (kind: string, payload: string) => Promise<string | undefined> | undefined;

interface Settlement {
  readonly deferred: QuickJSDeferredPromise;
  readonly value?: string;
  readonly error?: string;
}

interface Helpers {
  readonly setInput: QuickJSHandle;
  readonly serialize: QuickJSHandle;
  readonly describe: QuickJSHandle;
}

/** What `describe` in the guest says about a thrown value; also drives limit classification. */
const DESCRIBE = `(value) => {
  try {
    if (value instanceof Error) return String(value.name) + ': ' + String(value.message);
    return 'non-Error value thrown: ' + String(value);
  } catch (error) {
    return 'unprintable thrown value';
  }
}`;
const SERIALIZE = `((stringify) => (value) => (value === undefined ? undefined : stringify(value)))(JSON.stringify)`;

/**
 * One guest: a QuickJSRuntime with one context, its limits, and the rule that
 * guest code only ever runs inside `slice()`. A slice is the only time the
 * interrupt handler lets the interpreter run; it charges the elapsed time to
 * the run's CPU budget and stops the guest (uncatchably) when the budget or a
 * kill says so. Host answers to guest promises are queued and applied inside
 * the next slice, so the VM is never entered from a stray callback.
 */
export class GuestVm {
  private readonly runtime: QuickJSRuntime;
  private readonly context: QuickJSContext;
  private readonly helpers: Helpers;
  private readonly deferreds = new Set<QuickJSDeferredPromise>();
  private readonly settlements: Settlement[] = [];
  private wake: (() => void) | undefined;
  private sliceDeadline = Number.NEGATIVE_INFINITY;
  private killed: OacpError | undefined;
  private runCpuLimitMs = 0;
  /** Time in slices this run by `clock`: what the budget is charged (it errs towards stopping early). */
  private runCpuMs = 0;
  /** The guest thread's CPU during this run's slices, by `threadCpu`: what the run reports. */
  private runThreadCpuMs = 0;
  /** Guest heap as last measured (QuickJS's estimate; its own malloc accounting is broken under emscripten). */
  private heapBytes = 0;
  /** The module's growth-refusal count when the current slice began. */
  private refusalsAtSliceStart = 0;
  private disposed = false;
  /** Set once QuickJS failed underneath this guest; every later run fails with it. */
  private poisonedBy: OacpError | undefined;

  constructor(
    private readonly lease: ModuleLease,
    readonly limits: { readonly memoryBytes: number; readonly stackBytes: number },
    private readonly clock: Clock,
    grants: Grants,
    private readonly onHostCall: HostCall,
    /** Lets another thread see this guest's slices and ask for it to stop (see SliceBoard). */
    private readonly watch?: SliceWatch,
    /**
     * This thread's own CPU time (ownThreadCpuClock), read at each slice's ends so the run reports
     * the CPU its guest used; without one, the time in slices by `clock` is reported.
     */
    private readonly threadCpu?: Clock,
  ) {
    this.runtime = lease.module.newRuntime();
    this.runtime.setMemoryLimit(limits.memoryBytes);
    this.runtime.setMaxStackSize(limits.stackBytes);
    this.runtime.setInterruptHandler(() => this.shouldInterrupt());
    this.context = this.runtime.newContext();
    // Lets computeMemoryUsage use this context instead of creating a second one in the runtime.
    this.runtime.context = this.context;
    // Our own prelude runs without a deadline; guest code never does.
    this.sliceDeadline = Number.POSITIVE_INFINITY;
    try {
      this.helpers = this.install(grants);
    } finally {
      this.sliceDeadline = Number.NEGATIVE_INFINITY;
    }
  }

  /**
   * Starts a run: clears the last run's kill and gives the guest `cpuLimitMs` of execution in total.
   * A guest whose module failed underneath it stays killed: its heap lives in a module that may be damaged.
   */
  beginRun(cpuLimitMs: number): void {
    this.killed = this.poisonedBy;
    this.watch?.clearStop();
    this.runCpuLimitMs = cpuLimitMs;
    this.runCpuMs = 0;
    this.runThreadCpuMs = 0;
  }

  /**
   * Milliseconds of CPU the guest thread spent in this run's slices (the guest's code and OACP's
   * work for it there), measured with `threadCpu`; without it, the time in slices by `clock`.
   * Slices of other guests on the same thread are not counted: a slice runs alone on its thread.
   */
  cpuMs(): number {
    return this.threadCpu === undefined ? this.runCpuMs : this.runThreadCpuMs;
  }

  /** Ends whatever the guest is doing at its next interrupt check, with `error` as the reason. */
  kill(error: OacpError): void {
    this.killed ??= error;
    this.wake?.();
  }

  killReason(): OacpError | undefined {
    return this.killed;
  }

  pendingHostCalls(): number {
    return this.deferreds.size;
  }

  /** Resolves when a host call settles or the guest is killed. */
  waitForHost(): Promise<void> {
    if (this.settlements.length > 0 || this.killed !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
    });
  }

  /**
   * Runs `body` with the interpreter allowed to execute for what is left of
   * the run's CPU budget, and the module's memory allowed to grow only by what
   * is left of the guest's memory allowance. Afterwards the guest's heap is
   * measured: a guest above its limit is torn down right here, before any
   * other guest in the module runs, so its memory is free again when they do.
   * Host-side exceptions from inside QuickJS (a trap, the engine's own stack
   * overflowing) mean the module may be damaged: it is poisoned and the error
   * rethrown as WASM_MODULE_POISONED.
   */
  slice<T>(body: () => T): T {
    this.stopIfOverBudget();
    if (this.killed !== undefined) throw this.killed;
    if (this.disposed) throw new OacpError<WasmErrorCode>('WASM_STOPPED', 'the sandbox has been stopped');
    const cpuStart = this.threadCpu?.();
    const start = this.clock();
    const budget = Math.max(0, this.runCpuLimitMs - this.runCpuMs);
    this.sliceDeadline = start + budget;
    this.watch?.begin(budget, this.cpuMs());
    const allowance = Math.max(0, this.limits.memoryBytes - this.heapBytes) + GROWTH_SLACK;
    this.lease.limitGrowth(this.lease.linearBytes() + allowance);
    this.refusalsAtSliceStart = this.lease.growthRefusals();
    let outcome: { readonly value: T } | { readonly error: unknown };
    try {
      this.applySettlements();
      outcome = { value: body() };
    } catch (error) {
      outcome = { error };
    } finally {
      this.watch?.end();
      this.lease.limitGrowth(undefined);
      this.sliceDeadline = Number.NEGATIVE_INFINITY;
      this.runCpuMs += this.clock() - start;
      if (this.threadCpu !== undefined && cpuStart !== undefined) {
        this.runThreadCpuMs += Math.max(0, this.threadCpu() - cpuStart);
      }
    }
    if ('error' in outcome && !(outcome.error instanceof OacpError)) throw this.poisoned(outcome.error);
    const overLimit = this.checkHeap();
    if (overLimit !== undefined) throw overLimit;
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  }

  isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * Native built-ins check for no interrupt, so a slice can end past the run's CPU budget with
   * the guest none the wiser (under the watchdog's grace). Such a guest is killed here: no
   * further slice runs, and the run fails instead of returning what it computed. Call after the
   * last slice too.
   */
  stopIfOverBudget(): void {
    if (this.killed !== undefined || this.runCpuMs <= this.runCpuLimitMs) return;
    this.kill(
      new OacpError<WasmErrorCode>(
        'WASM_CPU_LIMIT',
        `guest used its CPU limit of ${this.runCpuLimitMs} ms per request (quota cpu_ms_per_request) inside a call that does not check for interrupts (${Math.round(this.runCpuMs)} ms in this run); what it computed was discarded`,
      ),
    );
  }

  private checkHeap(): OacpError | undefined {
    if (this.disposed) return undefined;
    this.heapBytes = this.memoryUsedBytes();
    if (this.heapBytes <= this.limits.memoryBytes) return undefined;
    const error = new OacpError<WasmErrorCode>(
      'WASM_MEMORY_LIMIT',
      `guest heap reached ${mib(this.heapBytes)} MiB, over its memory limit of ${mib(this.limits.memoryBytes)} MiB (quota memory_mb); the sandbox was stopped to free it`,
    );
    this.kill(error);
    this.dispose();
    return error;
  }

  private poisoned(error: unknown): OacpError {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    this.lease.poison(reason);
    this.poisonedBy ??= new OacpError<WasmErrorCode>(
      'WASM_MODULE_POISONED',
      `the QuickJS module failed underneath this guest (${reason}); the module was retired and this sandbox must be stopped`,
    );
    this.kill(this.poisonedBy);
    return this.killed ?? this.poisonedBy;
  }

  /** Runs the script; returns its completion value (possibly a promise) or throws the classified error. */
  evaluate(code: string): QuickJSHandle {
    return this.unwrap(this.context.evalCode(code, 'guest.js', { type: 'global' }));
  }

  setInput(json: string): void {
    const text = this.context.newString(json);
    try {
      this.unwrap(this.context.callFunction(this.helpers.setInput, this.context.undefined, text)).dispose();
    } finally {
      text.dispose();
    }
  }

  /** Runs queued jobs, then reports `handle`'s value, or undefined while it is still pending. */
  settleStep(handle: QuickJSHandle): { value: QuickJSHandle } | undefined {
    while (this.runtime.hasPendingJob()) {
      const jobs = this.runtime.executePendingJobs();
      if (jobs.error === undefined) {
        jobs.dispose();
        break;
      }
      // A job that failed with no exception value is a leftover of a run that was
      // interrupted mid-job; it has nothing to report. Anything else is this run's failure.
      const leftover = this.killed === undefined && this.context.sameValue(jobs.error, this.context.null);
      if (!leftover) throw this.classify(jobs.error);
      jobs.error.dispose();
    }
    const state = this.context.getPromiseState(handle);
    if (state.type === 'fulfilled') return { value: state.notAPromise === true ? handle.dup() : state.value };
    if (state.type === 'rejected') throw this.classify(state.error);
    return undefined;
  }

  hasPendingJob(): boolean {
    return this.runtime.hasPendingJob();
  }

  /** The guest's JSON text for `handle`, or undefined for `undefined`. */
  serialize(handle: QuickJSHandle): string | undefined {
    const result = this.unwrap(
      this.context.callFunction(this.helpers.serialize, this.context.undefined, handle),
    );
    try {
      const type = this.context.typeof(result);
      if (type === 'undefined') return undefined;
      if (type !== 'string')
        throw new OacpError<WasmErrorCode>('WASM_BAD_VALUE', 'the result is not JSON-serializable');
      return this.context.getString(result);
    } finally {
      result.dispose();
    }
  }

  /** Bytes the guest's heap holds now, by walking it (O(heap)). Host-side: no guest code runs. */
  memoryUsedBytes(): number {
    if (this.disposed) return 0;
    // Read one own data property rather than `dump` (JSON.stringify would run a guest `toJSON`).
    const usage = this.runtime.computeMemoryUsage();
    const used = this.context.getProp(usage, 'memory_used_size');
    try {
      return this.context.typeof(used) === 'number' ? this.context.getNumber(used) : 0;
    } finally {
      used.dispose();
      usage.dispose();
    }
  }

  /** Frees the runtime. Pending host answers are dropped; a failure here poisons the module. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const deferred of this.deferreds) deferred.dispose();
    this.deferreds.clear();
    this.settlements.length = 0;
    this.wake?.();
    try {
      for (const handle of Object.values(this.helpers)) handle.dispose();
      this.context.dispose();
      this.runtime.dispose();
    } catch (error) {
      this.lease.poison(teardownFailure(error));
    } finally {
      this.lease.release();
    }
  }

  /** Drops answers still owed to the guest (a run ended); late ones are ignored. */
  abandonHostCalls(): void {
    for (const deferred of this.deferreds) deferred.dispose();
    this.deferreds.clear();
    this.settlements.length = 0;
  }

  /** Outside a slice the deadline is -Infinity: no guest code runs unless we are running it. */
  private shouldInterrupt(): boolean {
    if (this.killed !== undefined) return true;
    if (this.watch?.stopRequested() === true) {
      this.kill(new OacpError<WasmErrorCode>('WASM_STOPPED', 'the host stopped this guest'));
      return true;
    }
    if (this.clock() <= this.sliceDeadline) return false;
    if (this.sliceDeadline !== Number.NEGATIVE_INFINITY) {
      this.kill(
        new OacpError<WasmErrorCode>(
          'WASM_CPU_LIMIT',
          `guest used its CPU limit of ${this.runCpuLimitMs} ms per request (quota cpu_ms_per_request) and was stopped`,
        ),
      );
    }
    return true;
  }

  private install(grants: Grants): Helpers {
    const ctx = this.context;
    const raw = ctx.newFunction('host', (kindHandle, payloadHandle) => {
      if (kindHandle === undefined || payloadHandle === undefined)
        throw new TypeError('host: two arguments expected');
      if (ctx.typeof(kindHandle) !== 'string' || ctx.typeof(payloadHandle) !== 'string') {
        throw new TypeError('host: arguments must be strings');
      }
      // Past the deadline inside a native call, the guest may reach here before any interrupt check.
      if (this.clock() > this.sliceDeadline) {
        this.shouldInterrupt();
        throw new RangeError('host: the CPU limit was reached');
      }
      const answer = this.onHostCall(ctx.getString(kindHandle), ctx.getString(payloadHandle));
      if (answer === undefined) return ctx.undefined;
      const deferred = ctx.newPromise();
      this.deferreds.add(deferred);
      answer.then(
        (value) => this.queue(value === undefined ? { deferred } : { deferred, value }),
        (error: unknown) =>
          this.queue({ deferred, error: error instanceof Error ? error.message : String(error) }),
      );
      return deferred.handle;
    });
    const grantsJson = ctx.newString(JSON.stringify(grants));
    try {
      const run = (source: string) =>
        ctx.unwrapResult(ctx.evalCode(source, 'oacp-prelude.js', { strict: true }));
      const parse = ctx.unwrapResult(ctx.evalCode('JSON.parse', 'oacp-prelude.js'));
      const grantsValue = ctx.unwrapResult(ctx.callFunction(parse, ctx.undefined, grantsJson));
      parse.dispose();
      const prelude = run(PRELUDE);
      const setInput = ctx.unwrapResult(ctx.callFunction(prelude, ctx.undefined, raw, grantsValue));
      prelude.dispose();
      grantsValue.dispose();
      return { setInput, serialize: run(SERIALIZE), describe: run(DESCRIBE) };
    } finally {
      grantsJson.dispose();
      raw.dispose();
    }
  }

  private queue(settlement: Settlement): void {
    if (!this.deferreds.has(settlement.deferred)) return;
    this.settlements.push(settlement);
    this.wake?.();
  }

  /** Inside a slice: hand queued host answers to the guest's promises. */
  private applySettlements(): void {
    const ctx = this.context;
    for (const settlement of this.settlements.splice(0)) {
      const { deferred } = settlement;
      if (!this.deferreds.delete(deferred)) continue;
      if (settlement.error !== undefined) {
        const error = ctx.newError({ name: 'Error', message: settlement.error });
        deferred.reject(error);
        error.dispose();
      } else if (settlement.value !== undefined) {
        const value = ctx.newString(settlement.value);
        deferred.resolve(value);
        value.dispose();
      } else {
        deferred.resolve();
      }
      deferred.dispose();
    }
  }

  private unwrap(result: ReturnType<QuickJSContext['evalCode']>): QuickJSHandle {
    if (result.error === undefined) return result.value;
    throw this.classify(result.error);
  }

  /** Turns a thrown guest value into an OacpError saying which limit (if any) was hit. Disposes `error`. */
  private classify(error: QuickJSHandle): OacpError {
    if (this.killed !== undefined) {
      error.dispose();
      return this.killed;
    }
    let text = 'unprintable thrown value';
    // Describing an out-of-memory error needs a little memory: lend it for this call only.
    this.runtime.setMemoryLimit(this.limits.memoryBytes + DESCRIBE_HEADROOM);
    try {
      const described = this.context.callFunction(this.helpers.describe, this.context.undefined, error);
      if (described.error === undefined) {
        if (this.context.typeof(described.value) === 'string') text = this.context.getString(described.value);
        described.value.dispose();
      } else {
        described.error.dispose();
      }
    } finally {
      error.dispose();
      this.runtime.setMemoryLimit(this.limits.memoryBytes);
    }
    // QuickJS throws `null` when it cannot even allocate the out-of-memory error.
    const starved = this.lease.growthRefusals() > this.refusalsAtSliceStart;
    if (text === 'InternalError: out of memory' || (starved && text === 'non-Error value thrown: null')) {
      return new OacpError<WasmErrorCode>(
        'WASM_MEMORY_LIMIT',
        `guest ran out of memory: an allocation would exceed its memory limit of ${mib(this.limits.memoryBytes)} MiB (quota memory_mb)`,
      );
    }
    if (text === 'InternalError: stack overflow' || text.startsWith('RangeError: Maximum call stack')) {
      return new OacpError<WasmErrorCode>(
        'WASM_STACK_LIMIT',
        `guest exceeded its stack limit of ${Math.round(this.limits.stackBytes / 1024)} KiB (recursion too deep)`,
      );
    }
    if (text === 'InternalError: interrupted') {
      return new OacpError<WasmErrorCode>('WASM_CPU_LIMIT', 'guest was interrupted at its CPU deadline');
    }
    // The guest chooses this text; 10 MB of it went whole to the operator's terminal and to callers.
    const shown =
      text.length > MAX_THROWN_TEXT
        ? `${clipText(text, MAX_THROWN_TEXT)}… (${text.length - MAX_THROWN_TEXT} more characters)`
        : text;
    return new OacpError<WasmErrorCode>('WASM_GUEST_ERROR', `guest threw ${shown}`);
  }
}

const DESCRIBE_HEADROOM = 256 * 1024;
/** How much of what a guest threw its error shows (a receipt's reason holds 4,096 units). */
const MAX_THROWN_TEXT = 2048;
/** Growth allowed beyond the guest's remaining allowance: handles, strings in flight, allocator rounding. */
const GROWTH_SLACK = 2 * 1024 * 1024;

/**
 * Why freeing a runtime failed, as it is. QuickJS asserts in JS_FreeRuntime
 * that its collector freed every object; after a job was interrupted at some
 * points inside its promise machinery, objects stay referenced (a QuickJS
 * bug, reproduced without OACP: no handle of ours is alive then), the
 * assertion fails and the runtime's memory stays allocated in the module.
 */
function teardownFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (message.includes('list_empty(&rt->gc_obj_list)')) {
    return `QuickJS could not free a guest's runtime: objects were still referenced after its jobs were interrupted (a QuickJS leak; ${message}); that runtime's memory stays allocated in this module`;
  }
  return `runtime teardown failed: ${message}`;
}

function mib(bytes: number): string {
  return String(Math.round((bytes / (1024 * 1024)) * 10) / 10);
}
