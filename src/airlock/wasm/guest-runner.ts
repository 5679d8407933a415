import type { QuickJSHandle } from 'quickjs-emscripten';
import { describeError, OacpError } from '../../core/errors.js';
import type { WasmErrorCode } from './errors.js';
import { GuestVm } from './guest-vm.js';
import type { ModuleLease } from './module-pool.js';
import type { Grants } from './prelude.js';
import type { SliceWatch } from './slice-board.js';
import type { ThreadCpuClock } from './thread-cpu.js';

export interface GuestRunRequest {
  readonly code: string;
  readonly inputText: string;
  readonly cpuLimitMs: number;
  readonly logBudgetBytes: number;
  readonly maxResultBytes: number;
}

export interface GuestOutcome {
  readonly text?: string;
  readonly oversizedResultBytes?: number;
  readonly failure?: { readonly code: string; readonly message: string };
  readonly cpuMs: number;
  readonly memoryBytes: number;
}

/** How a guest reaches the gateway's thread: host calls (answered later) and log lines. */
export interface GuestOutbox {
  call(call: number, kind: string, payload: string): void;
  log(payload: string): void;
}

interface Pending {
  readonly resolve: (value: string | undefined) => void;
  readonly reject: (error: Error) => void;
}

/**
 * One guest inside a guest thread: drives its GuestVm through a run
 * (evaluate, pump jobs and host answers, serialize the result) and forwards
 * its host calls to the gateway's thread, where the manifest, the quotas and
 * the bindings are. Wall-clock limits are the gateway's; CPU and memory are
 * enforced here and, for CPU, watched from outside as well (SliceBoard).
 */
export class GuestRunner {
  private readonly vm: GuestVm;
  private readonly calls = new Map<number, Pending>();
  private nextCall = 0;
  private running = false;
  private logBytes = 0;
  private logBudget = 0;
  private runDone: Promise<unknown> = Promise.resolve();

  constructor(
    lease: ModuleLease,
    limits: { readonly memoryBytes: number; readonly stackBytes: number },
    grants: Grants,
    watch: SliceWatch,
    private readonly outbox: GuestOutbox,
    /** This thread's CPU clock (ownThreadCpuClock), so runs report CPU rather than time in slices. */
    threadCpu?: ThreadCpuClock,
  ) {
    this.vm = new GuestVm(
      lease,
      limits,
      () => performance.now(),
      grants,
      (kind, payload) => this.hostCall(kind, payload),
      watch,
      threadCpu,
    );
  }

  run(request: GuestRunRequest): Promise<GuestOutcome> {
    const done = this.execute(request);
    this.runDone = done;
    return done;
  }

  kill(code: WasmErrorCode, message: string): void {
    this.vm.kill(new OacpError<WasmErrorCode>(code, message));
  }

  answer(call: number, value: string | undefined, error: string | undefined): void {
    const pending = this.calls.get(call);
    if (pending === undefined) return;
    this.calls.delete(call);
    if (error !== undefined) pending.reject(new Error(error));
    else pending.resolve(value);
  }

  async stop(): Promise<void> {
    this.vm.kill(new OacpError<WasmErrorCode>('WASM_STOPPED', 'the sandbox was stopped during the run'));
    await this.runDone;
    this.vm.dispose();
  }

  private async execute(request: GuestRunRequest): Promise<GuestOutcome> {
    if (this.vm.isDisposed()) {
      const why = this.vm.killReason();
      return {
        failure: {
          code: 'WASM_STOPPED',
          message: `the sandbox has been stopped${why === undefined ? '' : ` (${why.message})`}`,
        },
        cpuMs: 0,
        memoryBytes: 0,
      };
    }
    this.vm.beginRun(request.cpuLimitMs);
    this.running = true;
    this.logBytes = 0;
    this.logBudget = request.logBudgetBytes;
    let outcome:
      | { text?: string; oversizedResultBytes?: number }
      | { failure: { code: string; message: string } };
    try {
      const text = await this.evaluate(request);
      this.vm.stopIfOverBudget();
      const killed = this.vm.killReason();
      if (killed !== undefined) throw killed;
      const bytes = text === undefined ? 0 : Buffer.byteLength(text, 'utf8');
      if (text === undefined) outcome = {};
      else outcome = bytes > request.maxResultBytes ? { oversizedResultBytes: bytes } : { text };
    } catch (error) {
      outcome = {
        failure:
          error instanceof OacpError
            ? { code: error.code, message: error.message }
            : { code: 'WASM_GUEST_ERROR', message: describeError(error) },
      };
    }
    this.running = false;
    this.vm.abandonHostCalls();
    this.calls.clear();
    const hitLimit = 'failure' in outcome && outcome.failure.code === 'WASM_MEMORY_LIMIT';
    const memoryBytes = Math.max(hitLimit ? this.vm.limits.memoryBytes : 0, this.sampleMemory());
    return { ...outcome, cpuMs: this.vm.cpuMs(), memoryBytes };
  }

  private async evaluate(request: GuestRunRequest): Promise<string | undefined> {
    // Start from an empty host stack: the guest's recursion limit assumes it.
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.vm.slice(() => this.vm.setInput(request.inputText));
    const handle = this.vm.slice(() => this.vm.evaluate(request.code));
    try {
      const value = await this.settle(handle);
      try {
        return this.vm.slice(() => this.vm.serialize(value));
      } finally {
        value.dispose();
      }
    } finally {
      handle.dispose();
    }
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

  private hostCall(kind: string, payload: string): Promise<string | undefined> | undefined {
    if (!this.running) throw new Error('host functions answer only while the sandbox is running');
    if (kind === 'log') {
      this.logBytes += payload.length;
      if (this.logBytes > this.logBudget) {
        const error = new OacpError<WasmErrorCode>(
          'WASM_OUTPUT_LIMIT',
          'guest output flood stopped: its log lines passed the max_output_bytes quota',
        );
        this.vm.kill(error);
        throw error;
      }
      this.outbox.log(payload);
      return undefined;
    }
    const call = this.nextCall++;
    return new Promise((resolve, reject) => {
      this.calls.set(call, { resolve, reject });
      this.outbox.call(call, kind, payload);
    });
  }

  private sampleMemory(): number {
    try {
      return this.vm.memoryUsedBytes();
    } catch {
      return 0;
    }
  }
}
