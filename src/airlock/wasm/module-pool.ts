import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import {
  type EmscriptenModuleLoaderOptions,
  newQuickJSWASMModule,
  newVariant,
  type QuickJSWASMModule,
  RELEASE_SYNC,
} from 'quickjs-emscripten';
import { clipText } from '../../core/clip-text.js';
import { OacpError } from '../../core/errors.js';
import { type CompiledWasm, type LinearMemory, wasmApi } from './wasm-api.js';

/**
 * Where sandboxes live. Each sandbox gets its own QuickJSRuntime (own heap,
 * own memory limit, own interrupt handler), and many runtimes share one
 * WebAssembly module instance (one linear memory, at most 2 GiB). Sharing is
 * what makes an idle sandbox cost ~90 KiB instead of a module's ~300 KiB plus
 * 16 MiB of address space; the risk it brings is that runtimes draw on the
 * same linear memory. So a module admits a sandbox only while the memory
 * limits of the sandboxes it holds add up to no more than its heap budget
 * (times `overcommit`): with overcommit 1, no guest can exhaust the memory a
 * neighbour was promised. Modules whose linear memory has grown past the
 * budget, and modules that failed in a way that may have left the C heap
 * inconsistent ("poisoned"), take no new sandboxes and are dropped once their
 * last sandbox is gone. See docs/standard-tier.md for the numbers.
 */
export interface ModulePoolOptions {
  /** At most this many sandboxes per module (default 256). */
  readonly sandboxesPerModule?: number;
  /** Heap a module promises to its sandboxes, in bytes (default 1.5 GiB of the 2 GiB maximum). */
  readonly moduleHeapBudgetBytes?: number;
  /** Promise up to this multiple of the budget (default 1: never overcommit). */
  readonly overcommit?: number;
  /** Never hold more than this many live modules (default 64). */
  readonly maxModules?: number;
}

export interface ModuleLease {
  readonly module: QuickJSWASMModule;
  readonly moduleId: number;
  /** Current size of the module's linear memory. */
  linearBytes(): number;
  /**
   * While a guest runs, the module's linear memory may grow to at most
   * `bytes` (undefined: up to the module maximum). Growth past it fails
   * inside QuickJS as an ordinary out-of-memory error in that guest.
   */
  limitGrowth(bytes: number | undefined): void;
  /** How many times the growth limit has refused to grow the memory so far. */
  growthRefusals(): number;
  /** Give the reservation back; call once, after the runtime is disposed or abandoned. */
  release(): void;
  /** The module failed underneath a sandbox: take no new sandboxes there. */
  poison(reason: string): void;
}

/**
 * What a module's engine says about itself: its print/printErr output and
 * each retirement with its reason. The emscripten glue would otherwise write
 * this raw to the process's stdout/stderr (an operator's terminal); OACP
 * hands it to whoever created the pool (on a guest thread: the gateway's
 * thread, which logs it through the logger).
 */
export type EngineReport = (message: string) => void;

/**
 * QuickJS called emscripten's abort() (a failed C assertion, a fatal engine
 * error). Thrown from the module's onAbort hook, so the glue neither prints
 * "Aborted(...)" to stderr nor marks the whole module as aborted. Not an
 * OacpError on purpose: GuestVm treats any non-OacpError out of the engine as
 * a possibly damaged module and retires it.
 */
export class QuickJsAbort extends Error {
  override readonly name = 'QuickJsAbort';
}

/** Hooks the emscripten glue reads from its module object (quickjs-emscripten's type leaves them out). */
interface GlueHooks extends EmscriptenModuleLoaderOptions {
  print(text: unknown): void;
  printErr(text: unknown): void;
  onAbort(what: unknown): void;
}

/** At most this much of one engine message is reported. */
const MAX_ENGINE_MESSAGE = 1024;

export interface PoolStats {
  readonly modules: number;
  readonly retiredModules: number;
  readonly sandboxes: number;
  readonly reservedBytes: number;
  readonly linearMemoryBytes: number;
}

interface Slot {
  readonly id: number;
  readonly module: QuickJSWASMModule;
  readonly memory: LinearMemory;
  /** Growth ceiling while a guest runs; see ModuleLease.limitGrowth. */
  ceiling: number | undefined;
  refusals: number;
  sandboxes: number;
  reserved: number;
  retired?: string;
}

const GiB = 1024 * 1024 * 1024;

export class QuickJsModulePool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private pending: Promise<void> | undefined;
  private readonly perModule: number;
  private readonly heapBudget: number;
  /** What a module may promise: the heap budget times the overcommit factor. */
  private readonly budget: number;
  private readonly maxModules: number;
  /** Hard size of each module's linear memory. */
  private readonly maxBytes: number;

  private constructor(
    private readonly makeModule: (memory: LinearMemory, moduleId: number) => Promise<QuickJSWASMModule>,
    options: ModulePoolOptions,
    private readonly report: EngineReport,
  ) {
    this.perModule = options.sandboxesPerModule ?? 256;
    this.heapBudget = options.moduleHeapBudgetBytes ?? 1.5 * GiB;
    this.maxBytes = Math.min(2 * GiB, this.heapBudget + 64 * 1024 * 1024);
    this.budget = this.heapBudget * (options.overcommit ?? 1);
    this.maxModules = options.maxModules ?? 64;
  }

  /** Compiles the QuickJS WebAssembly once; every module after that only instantiates it (~2 ms). */
  static async create(
    options: ModulePoolOptions = {},
    report: EngineReport = () => undefined,
  ): Promise<QuickJsModulePool> {
    const compiled = await compileQuickJs();
    const make = (wasmMemory: LinearMemory, moduleId: number) => {
      const say = (stream: string) => (text: unknown) =>
        report(`QuickJS module ${moduleId} ${stream}: ${clipText(String(text), MAX_ENGINE_MESSAGE)}`);
      // Never the glue's defaults (console.log/console.error, raw to the terminal), and no global abort state.
      const emscriptenModule: GlueHooks = {
        print: say('printed'),
        printErr: say('printed on stderr'),
        onAbort: (what: unknown) => {
          throw new QuickJsAbort(`QuickJS aborted: ${clipText(String(what), MAX_ENGINE_MESSAGE)}`);
        },
      };
      return newQuickJSWASMModule(
        compiled === undefined
          ? newVariant(RELEASE_SYNC, { wasmMemory, emscriptenModule })
          : newVariant(RELEASE_SYNC, { wasmModule: compiled, wasmMemory, emscriptenModule }),
      );
    };
    const pool = new QuickJsModulePool(make, options, report);
    pool.spare();
    return pool;
  }

  /** A place for a sandbox whose memory limit is `reserveBytes`. */
  async lease(reserveBytes: number): Promise<ModuleLease> {
    if (reserveBytes > this.budget) {
      throw new OacpError(
        'WASM_UNAVAILABLE',
        `a memory limit of ${mib(reserveBytes)} MiB is more than one QuickJS module can promise (${mib(this.budget)} MiB)`,
      );
    }
    for (;;) {
      this.sweep();
      const slot = this.slots.find((candidate) => this.fits(candidate, reserveBytes));
      if (slot !== undefined) return this.take(slot, reserveBytes);
      const live = this.slots.length;
      if (live >= this.maxModules && this.pending === undefined) {
        throw new OacpError(
          'WASM_UNAVAILABLE',
          `all ${live} QuickJS modules are full (${this.perModule} sandboxes or ${mib(this.budget)} MiB each); stop idle sandboxes or lower quotas.memory_mb`,
        );
      }
      await this.spare();
    }
  }

  stats(): PoolStats {
    let sandboxes = 0;
    let reservedBytes = 0;
    let linearMemoryBytes = 0;
    for (const slot of this.slots) {
      sandboxes += slot.sandboxes;
      reservedBytes += slot.reserved;
      linearMemoryBytes += slot.memory.buffer.byteLength;
    }
    return {
      modules: this.slots.length,
      retiredModules: this.slots.filter((slot) => slot.retired !== undefined).length,
      sandboxes,
      reservedBytes,
      linearMemoryBytes,
    };
  }

  /** Linear memory never shrinks: a module that grew past the budget takes no one new and goes once empty. */
  private sweep(): void {
    for (const slot of [...this.slots]) {
      if (slot.retired === undefined && slot.memory.buffer.byteLength > this.heapBudget) {
        slot.retired = 'linear memory grew past the heap budget';
      }
      this.dropIfDone(slot);
    }
  }

  private fits(slot: Slot, reserveBytes: number): boolean {
    if (slot.retired !== undefined) return false;
    return slot.sandboxes < this.perModule && slot.reserved + reserveBytes <= this.budget;
  }

  private take(slot: Slot, reserveBytes: number): ModuleLease {
    slot.sandboxes += 1;
    slot.reserved += reserveBytes;
    // Start the next module while this one still has room, so no creation waits for instantiation.
    if (slot.sandboxes >= this.perModule * 0.9 || slot.reserved + 2 * reserveBytes > this.budget)
      this.spare();
    let released = false;
    return {
      module: slot.module,
      moduleId: slot.id,
      linearBytes: () => slot.memory.buffer.byteLength,
      limitGrowth: (bytes) => {
        slot.ceiling = bytes;
      },
      growthRefusals: () => slot.refusals,
      release: () => {
        if (released) return;
        released = true;
        slot.sandboxes -= 1;
        slot.reserved -= reserveBytes;
        this.dropIfDone(slot);
      },
      poison: (reason) => {
        if (slot.retired !== undefined) return;
        slot.retired = `poisoned: ${reason}`;
        this.report(
          `QuickJS module ${slot.id} retired (its sandboxes keep running, new ones go elsewhere): ${clipText(reason, MAX_ENGINE_MESSAGE)}`,
        );
      },
    };
  }

  private dropIfDone(slot: Slot): void {
    if (slot.retired === undefined || slot.sandboxes > 0) return;
    const index = this.slots.indexOf(slot);
    // The module object is unreachable after this; the engine frees its linear memory.
    if (index !== -1) this.slots.splice(index, 1);
  }

  /** Starts instantiating one more module unless an empty one is ready or the cap is reached. */
  private spare(): Promise<void> {
    if (this.pending !== undefined) return this.pending;
    const hasRoom = this.slots.some((slot) => slot.retired === undefined && slot.sandboxes === 0);
    if (hasRoom || this.slots.length >= this.maxModules) return Promise.resolve();
    const slot: { ceiling: number | undefined; refusals: number } = { ceiling: undefined, refusals: 0 };
    const memory = gatedMemory(this.maxBytes, (bytes) => {
      if (slot.ceiling === undefined || bytes <= slot.ceiling) return true;
      slot.refusals += 1;
      return false;
    });
    const id = this.nextId++;
    const pending = this.makeModule(memory, id).then(
      (module) => {
        this.slots.push(Object.assign(slot, { id, module, memory, sandboxes: 0, reserved: 0 }));
        this.pending = undefined;
      },
      (error: unknown) => {
        this.pending = undefined;
        throw new OacpError('WASM_UNAVAILABLE', `cannot instantiate QuickJS: ${String(error)}`, {
          cause: error,
        });
      },
    );
    // A failed background spare is reported by the lease that waits on it, not as an unhandled rejection.
    pending.catch(() => undefined);
    this.pending = pending;
    return pending;
  }
}

const PAGE = 65536;
/** What the emscripten glue asks for; QuickJS's module declares 16 MiB initial memory. */
const INITIAL_PAGES = 256;

/**
 * The module's linear memory, with a hard maximum and a gate on growth. The
 * emscripten glue grows memory by calling `grow` on this object and treats a
 * throw as "no memory", which malloc reports as NULL and QuickJS as an
 * out-of-memory error in the running guest. That is how a guest is held to
 * its allowance at the moment it allocates, not after the fact.
 */
function gatedMemory(maxBytes: number, mayGrowTo: (bytes: number) => boolean): LinearMemory {
  const memory = new wasmApi.Memory({
    initial: INITIAL_PAGES,
    maximum: Math.max(INITIAL_PAGES, Math.floor(maxBytes / PAGE)),
  });
  const grow = memory.grow.bind(memory);
  Object.defineProperty(memory, 'grow', {
    value: (delta: number) => {
      if (!mayGrowTo(memory.buffer.byteLength + delta * PAGE)) {
        throw new RangeError('linear memory growth refused: the running guest is at its memory allowance');
      }
      return grow(delta);
    },
  });
  return memory;
}

async function compileQuickJs(): Promise<CompiledWasm | undefined> {
  try {
    const path = createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/wasm');
    return await wasmApi.compile(await readFile(path));
  } catch {
    // Not hoisted where we can see it: each module compiles its own copy (slower, same behaviour).
    return undefined;
  }
}

function mib(bytes: number): number {
  return Math.round(bytes / (1024 * 1024));
}
