import { type ResourceLimits, Worker } from 'node:worker_threads';
import { OacpError } from '../../core/errors.js';
import type { WasmErrorCode } from './errors.js';
import type { EngineReport, ModulePoolOptions, PoolStats } from './module-pool.js';
import { SliceBoard, type SliceView } from './slice-board.js';
import { type ThreadCpuClock, threadCpuClock } from './thread-cpu.js';
import { FromGuestThread, type ToGuestThread } from './thread-protocol.js';

/** Why a guest thread was terminated, as each of its guests learns it. */
export interface ThreadLoss {
  /** True for the guest whose limit made the gateway terminate the thread. */
  readonly offender: boolean;
  readonly limit: 'cpu' | 'stop' | 'crash';
  readonly reason: string;
  /**
   * For the offender stopped in the middle of a slice: the CPU its run had used, as measured (what
   * it had used before the slice, plus the thread's CPU during it by this thread's clock).
   */
  readonly cpuMs?: number;
}

/** A sandbox as its guest thread sees it. */
export interface ThreadGuest {
  receive(message: FromGuestThread): void;
  lost(loss: ThreadLoss): void;
}

export interface GuestThreadOptions {
  readonly pool: ModulePoolOptions;
  readonly resourceLimits: ResourceLimits;
  /** Where this thread's QuickJS modules report about themselves (see EngineReport). */
  readonly onEngineReport: EngineReport;
}

/** CPU a guest may run past its budget inside one native call before its thread is terminated. */
export const CPU_GRACE_MS = 100;
/** Wall time a guest that was told to stop may keep executing before its thread is terminated. */
export const STOP_GRACE_MS = 500;

interface Watched {
  readonly guest: number;
  readonly sequence: number;
  readonly sinceCpuMs: number;
}

/**
 * The gateway's handle on one guest thread. Besides carrying messages, it
 * watches the thread from outside (`check`, called by the pool's watchdog):
 * a slice that has used more CPU than the running guest had left, or a guest
 * still executing after it was told to stop, means the guest is inside a
 * native call that never checks for interrupts. The only way to stop that is
 * to terminate the thread; every other guest on it is told why.
 */
export class GuestThread {
  private readonly guests = new Map<number, ThreadGuest>();
  private readonly stopping = new Map<number, number>();
  private nextGuest = 1;
  private outstanding = 0;
  private dead: string | undefined;
  private watched: Watched | undefined;
  private latest: PoolStats = {
    modules: 0,
    retiredModules: 0,
    sandboxes: 0,
    reservedBytes: 0,
    linearMemoryBytes: 0,
  };

  private constructor(
    private readonly worker: Worker,
    private readonly board: SliceBoard,
    private readonly cpu: ThreadCpuClock,
    readonly cpuSource: 'thread-cpu' | 'wall',
    private readonly onEngineReport: EngineReport,
  ) {
    worker.on('message', (raw: unknown) => this.receive(raw));
    worker.on('error', (error) =>
      this.terminate(undefined, 'crash', `the guest thread failed: ${error.message}`),
    );
    worker.on('exit', (code) => this.terminate(undefined, 'crash', `the guest thread exited (code ${code})`));
    worker.unref();
  }

  static spawn(options: GuestThreadOptions): Promise<GuestThread> {
    const board = new SliceBoard();
    const worker = startWorker({
      workerData: { board: board.buffer, pool: options.pool },
      resourceLimits: options.resourceLimits,
    });
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => fail(error.message);
      const onExit = (code: number) => fail(`it exited with code ${code}`);
      const onMessage = (raw: unknown) => {
        settle();
        const ready = FromGuestThread.safeParse(raw);
        if (!ready.success || ready.data.type !== 'ready') return fail('it did not report ready');
        const { clock, source } = threadCpuClock(ready.data.tid);
        resolve(new GuestThread(worker, board, clock, source, options.onEngineReport));
      };
      const settle = () => {
        worker.off('error', onError);
        worker.off('exit', onExit);
        worker.off('message', onMessage);
      };
      const fail = (why: string) => {
        settle();
        void worker.terminate();
        reject(new OacpError<WasmErrorCode>('WASM_UNAVAILABLE', `cannot start a guest thread: ${why}`));
      };
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.on('message', onMessage);
    });
  }

  /** Places `guest` on this thread; returns its number here. */
  attach(guest: ThreadGuest): number {
    const number = this.nextGuest++;
    this.guests.set(number, guest);
    return number;
  }

  detach(number: number): void {
    this.guests.delete(number);
    this.stopping.delete(number);
  }

  load(): number {
    return this.guests.size;
  }

  isDead(): boolean {
    return this.dead !== undefined;
  }

  stats(): PoolStats {
    return this.latest;
  }

  /** Sends a request; create, run and stop keep the process alive until answered. */
  post(message: ToGuestThread): void {
    if (this.dead !== undefined) return;
    if (message.type === 'create' || message.type === 'run' || message.type === 'stop') this.hold(1);
    // A stop asked for before this run began concerned an earlier run.
    if (message.type === 'run') this.stopping.delete(message.guest);
    this.worker.postMessage(message);
  }

  /** Stops `guest` at its next interrupt check; if it is still executing after STOP_GRACE_MS, its thread goes. */
  requestStop(guest: number): void {
    if (this.dead !== undefined) return;
    this.board.requestStop(guest);
    if (!this.stopping.has(guest)) this.stopping.set(guest, performance.now() + STOP_GRACE_MS);
  }

  /** The watchdog: called every few milliseconds by the pool, on the gateway's thread. */
  check(): void {
    if (this.dead !== undefined) return;
    const view = this.board.read();
    if (view.guest === 0) {
      this.watched = undefined;
      return;
    }
    const stopAt = this.stopping.get(view.guest);
    if (stopAt !== undefined) {
      // Another guest's request may have taken the abort word; ask again.
      this.board.requestStop(view.guest);
      if (performance.now() > stopAt) {
        this.terminate(
          view.guest,
          'stop',
          `a guest kept executing ${STOP_GRACE_MS} ms after it was told to stop (inside a native built-in that does not check for interrupts)`,
          this.runCpuMs(view),
        );
        return;
      }
    }
    const cpu = this.cpu();
    const watched = this.watched;
    if (watched === undefined || watched.sequence !== view.sequence || watched.guest !== view.guest) {
      this.watched = { guest: view.guest, sequence: view.sequence, sinceCpuMs: cpu };
      return;
    }
    if (cpu - watched.sinceCpuMs > view.budgetMs + CPU_GRACE_MS) {
      this.terminate(
        view.guest,
        'cpu',
        'a guest ran past its CPU limit inside a native built-in that does not check for interrupts',
        view.usedMs + (cpu - watched.sinceCpuMs),
      );
    }
  }

  /** The CPU the run in `view`'s slice has used, when this slice has been watched from its start. */
  private runCpuMs(view: SliceView): number | undefined {
    const watched = this.watched;
    if (watched === undefined || watched.sequence !== view.sequence || watched.guest !== view.guest) {
      return undefined;
    }
    return view.usedMs + Math.max(0, this.cpu() - watched.sinceCpuMs);
  }

  /** Ends the thread and tells each of its guests why (the offender, its run's CPU). Idempotent. */
  terminate(offender: number | undefined, limit: ThreadLoss['limit'], reason: string, cpuMs?: number): void {
    if (this.dead !== undefined) return;
    this.dead = reason;
    void this.worker.terminate();
    const guests = [...this.guests];
    this.guests.clear();
    this.stopping.clear();
    for (const [number, guest] of guests) {
      const offends = number === offender;
      guest.lost({ offender: offends, limit, reason, ...(offends && cpuMs !== undefined ? { cpuMs } : {}) });
    }
  }

  private receive(raw: unknown): void {
    if (this.dead !== undefined) return;
    const parsed = FromGuestThread.safeParse(raw);
    if (!parsed.success) {
      this.terminate(undefined, 'crash', 'the guest thread sent a malformed message');
      return;
    }
    const message = parsed.data;
    if (message.type === 'ready') return;
    if (message.type === 'engine') {
      this.onEngineReport(message.message);
      return;
    }
    if (message.type === 'created' || message.type === 'done' || message.type === 'stopped') {
      this.latest = message.stats;
    }
    if (
      message.type === 'created' ||
      message.type === 'refused' ||
      message.type === 'done' ||
      message.type === 'stopped'
    ) {
      this.hold(-1);
    }
    if (message.type === 'done') this.stopping.delete(message.guest);
    this.guests.get(message.guest)?.receive(message);
  }

  /** A thread with requests in flight keeps the process alive; an idle one does not. */
  private hold(delta: number): void {
    const before = this.outstanding;
    this.outstanding = Math.max(0, before + delta);
    if (before === 0 && this.outstanding > 0) this.worker.ref();
    if (before > 0 && this.outstanding === 0) this.worker.unref();
  }
}

/**
 * The worker runs guest-worker.js next to this file. Run from TypeScript
 * sources (tests, the bench) there is no .js; guest-worker-dev.mjs registers
 * tsx's loader and imports the .ts entry instead.
 */
function startWorker(options: { workerData: unknown; resourceLimits: ResourceLimits }): Worker {
  const fromSources = new URL(import.meta.url).pathname.endsWith('.ts');
  return new Worker(
    new URL(fromSources ? './guest-worker-dev.mjs' : './guest-worker.js', import.meta.url),
    options,
  );
}
