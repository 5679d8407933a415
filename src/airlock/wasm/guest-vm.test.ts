import { describe, expect, it } from 'vitest';
import { GuestVm } from './guest-vm.js';
import { QuickJsModulePool } from './module-pool.js';

const MiB = 1024 * 1024;
const NO_GRANTS = { tools: false, contextGet: false, contextPut: false, fetch: false, models: false };

async function vmIn(pool: QuickJsModulePool, clock: () => number = () => performance.now()) {
  const lease = await pool.lease(8 * MiB);
  return new GuestVm(lease, { memoryBytes: 8 * MiB, stackBytes: 256 * 1024 }, clock, NO_GRANTS, () => {
    throw new Error('no host calls in this test');
  });
}

describe('GuestVm', () => {
  it('lets guest code run only inside a slice', async () => {
    const pool = await QuickJsModulePool.create({ moduleHeapBudgetBytes: 64 * MiB });
    const vm = await vmIn(pool);
    vm.beginRun(1000);
    expect(() => vm.evaluate('for (;;) {}')).toThrow('guest was interrupted at its CPU deadline');
    const value = vm.slice(() => vm.evaluate('6 * 7'));
    expect(vm.slice(() => vm.serialize(value))).toBe('42');
    value.dispose();
    vm.dispose();
  });

  it('poisons its module when the engine fails underneath the guest', async () => {
    const pool = await QuickJsModulePool.create({ moduleHeapBudgetBytes: 64 * MiB });
    const vm = await vmIn(pool);
    const neighbour = await vmIn(pool);
    vm.beginRun(1000);
    expect(() =>
      vm.slice(() => {
        throw new RangeError('Maximum call stack size exceeded');
      }),
    ).toThrow(
      'the QuickJS module failed underneath this guest (RangeError: Maximum call stack size exceeded); the module was retired',
    );
    expect(pool.stats().retiredModules).toBe(1);
    // Its heap lives in a module that may be damaged: a later run of the same guest fails too.
    vm.beginRun(1000);
    expect(() => vm.slice(() => vm.evaluate('1'))).toThrow(
      'the QuickJS module failed underneath this guest (RangeError: Maximum call stack size exceeded); the module was retired and this sandbox must be stopped',
    );
    const newcomer = await vmIn(pool);
    expect(pool.stats().modules).toBe(2);
    neighbour.beginRun(1000);
    const still = neighbour.slice(() => neighbour.evaluate('"neighbour still runs"'));
    expect(neighbour.slice(() => neighbour.serialize(still))).toBe('"neighbour still runs"');
    still.dispose();
    vm.dispose();
    neighbour.dispose();
    expect(pool.stats()).toMatchObject({ modules: 1, retiredModules: 0 });
    newcomer.dispose();
  });

  it('a guest whose runtime QuickJS cannot free after an interrupted job: reported as that, nothing raw on stderr, neighbours keep running', async () => {
    // The emscripten glue binds console.error/console.log when a module is instantiated; record what reaches them.
    const printed: unknown[][] = [];
    const saved = { error: console.error, log: console.log };
    console.error = (...args: unknown[]) => printed.push(args);
    console.log = (...args: unknown[]) => printed.push(args);
    const reports: string[] = [];
    try {
      const pool = await QuickJsModulePool.create({ moduleHeapBudgetBytes: 64 * MiB }, (message) =>
        reports.push(message),
      );
      const neighbour = await vmIn(pool);
      neighbour.beginRun(1000);
      neighbour.slice(() => neighbour.evaluate('globalThis.kept = "neighbour state"')).dispose();
      // A clock that advances on every reading makes the interrupt land at the same point each time:
      // inside the promise machinery of an endless job chain, where QuickJS then leaks objects.
      let ticks = 0;
      const victim = await vmIn(pool, () => ticks++);
      victim.beginRun(25);
      const chain = victim.slice(() =>
        victim.evaluate('(function spin() { return Promise.resolve().then(spin) })()'),
      );
      victim.slice(() => victim.settleStep(chain));
      chain.dispose();
      expect(victim.killReason()?.code).toBe('WASM_CPU_LIMIT');
      expect(() => victim.dispose()).not.toThrow();

      expect(printed).toEqual([]);
      expect(reports).toHaveLength(1);
      expect(reports[0]).toMatch(
        /^QuickJS module \d+ retired \(its sandboxes keep running, new ones go elsewhere\): QuickJS could not free a guest's runtime: objects were still referenced after its jobs were interrupted \(a QuickJS leak; QuickJS aborted: Assertion failed: list_empty\(&rt->gc_obj_list\)/,
      );
      // The module was not aborted: the neighbour in it keeps its state and runs.
      neighbour.beginRun(1000);
      const kept = neighbour.slice(() =>
        neighbour.evaluate('kept + " " + [1, 2, 3].map((n) => n * 2).join()'),
      );
      expect(neighbour.slice(() => neighbour.serialize(kept))).toBe('"neighbour state 2,4,6"');
      kept.dispose();
      // Newcomers go to a fresh module; the retired one goes with its last sandbox.
      const newcomer = await vmIn(pool);
      expect(pool.stats()).toMatchObject({ modules: 2, retiredModules: 1 });
      neighbour.dispose();
      expect(pool.stats()).toMatchObject({ modules: 1, retiredModules: 0 });
      newcomer.dispose();
      expect(printed).toEqual([]);
    } finally {
      console.error = saved.error;
      console.log = saved.log;
    }
  });

  it('a slice that ran past the CPU budget inside a native call ends the run: no host call, no further slice, no result', async () => {
    const pool = await QuickJsModulePool.create({ moduleHeapBudgetBytes: 64 * MiB });
    let now = 0;
    const calls: string[] = [];
    const lease = await pool.lease(8 * MiB);
    const vm = new GuestVm(
      lease,
      { memoryBytes: 8 * MiB, stackBytes: 256 * 1024 },
      () => now,
      NO_GRANTS,
      (kind) => {
        calls.push(kind);
        return undefined;
      },
    );
    // The clock jumps inside the slice as it does inside Array.prototype.join, where no interrupt is checked.
    vm.beginRun(1000);
    expect(() =>
      vm.slice(() => {
        now += 1500;
        return vm.evaluate('console.log("after the deadline"); 1');
      }),
    ).toThrow('guest used its CPU limit of 1000 ms per request (quota cpu_ms_per_request) and was stopped');
    expect(calls).toEqual([]);

    vm.beginRun(1000);
    const value = vm.slice(() => {
      now += 1500;
      return vm.evaluate('"computed too late"');
    });
    expect(() => vm.slice(() => vm.serialize(value))).toThrow(
      'guest used its CPU limit of 1000 ms per request (quota cpu_ms_per_request) inside a call that does not check for interrupts (1500 ms in this run); what it computed was discarded',
    );
    value.dispose();
    vm.beginRun(1000);
    const fresh = vm.slice(() => vm.evaluate('"next run"'));
    expect(vm.slice(() => vm.serialize(fresh))).toBe('"next run"');
    fresh.dispose();
    vm.dispose();
    expect(pool.stats().retiredModules).toBe(0);
  });
});
