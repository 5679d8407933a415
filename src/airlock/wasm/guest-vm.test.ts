import { describe, expect, it } from 'vitest';
import { GuestVm } from './guest-vm.js';
import { QuickJsModulePool } from './module-pool.js';

const MiB = 1024 * 1024;
const NO_GRANTS = { tools: false, contextGet: false, contextPut: false, fetch: false, models: false };

async function vmIn(pool: QuickJsModulePool) {
  const lease = await pool.lease(8 * MiB);
  return new GuestVm(
    lease,
    { memoryBytes: 8 * MiB, stackBytes: 256 * 1024 },
    () => performance.now(),
    NO_GRANTS,
    () => {
      throw new Error('no host calls in this test');
    },
  );
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
});
