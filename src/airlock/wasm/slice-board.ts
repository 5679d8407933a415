/**
 * A few words of memory shared between the gateway's thread and one guest
 * thread, so that the gateway can see what the guest thread is doing and
 * stop it without waiting for its event loop (which a guest stuck in a
 * native built-in such as `Array.prototype.sort` does not return to).
 *
 * The guest thread writes, at the start of every slice (see GuestVm), which
 * guest is executing, how much CPU that guest has left and how much its run
 * has used (so a run whose thread is terminated is still reported); the gateway
 * reads it from its watchdog. The gateway writes which guest it wants
 * stopped; the guest's interrupt handler reads that at every check.
 */
const RUNNING = 0;
const SEQUENCE = 1;
const BUDGET_MS = 2;
const ABORT = 3;
const USED_MS = 4;
const WORDS = 5;

export interface SliceView {
  /** The guest executing now (0: none). */
  readonly guest: number;
  /** Changes with every slice, so the watchdog can tell one long slice from many short ones. */
  readonly sequence: number;
  /** CPU the running guest had left when the slice began. */
  readonly budgetMs: number;
  /** CPU the running guest's run had used when the slice began (GuestVm.cpuMs). */
  readonly usedMs: number;
}

/** The guest thread's side of the board, handed to each GuestVm. */
export interface SliceWatch {
  begin(budgetMs: number, usedMs: number): void;
  end(): void;
  /** The gateway asked for this guest to be stopped. */
  stopRequested(): boolean;
  /** A new run starts: forget an earlier stop request for this guest. */
  clearStop(): void;
}

export class SliceBoard {
  private readonly words: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(WORDS * 4)) {
    this.words = new Int32Array(buffer);
  }

  /** Worker side: the watch for guest number `guest`. */
  watch(guest: number): SliceWatch {
    const words = this.words;
    return {
      begin: (budgetMs, usedMs) => {
        Atomics.store(words, BUDGET_MS, Math.min(0x7fffffff, Math.max(0, Math.ceil(budgetMs))));
        Atomics.store(words, USED_MS, Math.min(0x7fffffff, Math.max(0, Math.round(usedMs))));
        Atomics.add(words, SEQUENCE, 1);
        Atomics.store(words, RUNNING, guest);
      },
      end: () => {
        Atomics.store(words, RUNNING, 0);
      },
      stopRequested: () => Atomics.load(words, ABORT) === guest,
      clearStop: () => {
        Atomics.compareExchange(words, ABORT, guest, 0);
      },
    };
  }

  /** Gateway side: what the guest thread is executing now. */
  read(): SliceView {
    return {
      guest: Atomics.load(this.words, RUNNING),
      sequence: Atomics.load(this.words, SEQUENCE),
      budgetMs: Atomics.load(this.words, BUDGET_MS),
      usedMs: Atomics.load(this.words, USED_MS),
    };
  }

  /** Gateway side: the guest's interrupt handler stops it at its next check. */
  requestStop(guest: number): void {
    Atomics.store(this.words, ABORT, guest);
  }
}
