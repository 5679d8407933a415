import { describe, expect, it } from 'vitest';
import { QuickJsModulePool } from './module-pool.js';

const MiB = 1024 * 1024;

describe('QuickJsModulePool placement', () => {
  it('packs sandboxes into one module until its count or heap budget is promised away', async () => {
    const pool = await QuickJsModulePool.create({ sandboxesPerModule: 3, moduleHeapBudgetBytes: 64 * MiB });
    const a = await pool.lease(16 * MiB);
    const b = await pool.lease(16 * MiB);
    const c = await pool.lease(16 * MiB);
    expect(new Set([a.moduleId, b.moduleId, c.moduleId]).size).toBe(1);
    const d = await pool.lease(16 * MiB);
    expect(d.moduleId).not.toBe(a.moduleId);
    const big = await pool.lease(56 * MiB);
    expect(big.moduleId).not.toBe(d.moduleId);
    expect(pool.stats()).toMatchObject({ sandboxes: 5, reservedBytes: 120 * MiB });
  });

  it('refuses a memory limit no module can promise', async () => {
    const pool = await QuickJsModulePool.create({ moduleHeapBudgetBytes: 64 * MiB });
    await expect(pool.lease(128 * MiB)).rejects.toThrow(
      'a memory limit of 128 MiB is more than one QuickJS module can promise (64 MiB)',
    );
  });

  it('overcommit lets a module promise more than its budget', async () => {
    const pool = await QuickJsModulePool.create({ moduleHeapBudgetBytes: 64 * MiB, overcommit: 2 });
    const a = await pool.lease(64 * MiB);
    const b = await pool.lease(64 * MiB);
    expect(a.moduleId).toBe(b.moduleId);
  });

  it('says so when every module is full and no more may be made', async () => {
    const pool = await QuickJsModulePool.create({
      sandboxesPerModule: 1,
      maxModules: 2,
      moduleHeapBudgetBytes: 64 * MiB,
    });
    await pool.lease(MiB);
    await pool.lease(MiB);
    await expect(pool.lease(MiB)).rejects.toMatchObject({
      code: 'WASM_UNAVAILABLE',
      message: expect.stringContaining('all 2 QuickJS modules are full'),
    });
  });
});

describe('QuickJsModulePool retirement', () => {
  it('places no one in a poisoned module and drops it when its last sandbox leaves', async () => {
    const pool = await QuickJsModulePool.create({ moduleHeapBudgetBytes: 64 * MiB });
    const a = await pool.lease(MiB);
    const b = await pool.lease(MiB);
    a.poison('test: engine stack overflow');
    expect(pool.stats().retiredModules).toBe(1);
    const c = await pool.lease(MiB);
    expect(c.moduleId).not.toBe(a.moduleId);
    a.release();
    b.release();
    expect(pool.stats()).toMatchObject({ modules: 1, retiredModules: 0, sandboxes: 1 });
  });

  it('gives back reservations exactly once', async () => {
    const pool = await QuickJsModulePool.create({ moduleHeapBudgetBytes: 64 * MiB });
    const a = await pool.lease(8 * MiB);
    a.release();
    a.release();
    expect(pool.stats()).toMatchObject({ sandboxes: 0, reservedBytes: 0 });
  });
});

describe('growth gate', () => {
  it('turns linear-memory growth past the ceiling into an out-of-memory error inside the guest', async () => {
    const pool = await QuickJsModulePool.create({ moduleHeapBudgetBytes: 256 * MiB });
    const lease = await pool.lease(MiB);
    const runtime = lease.module.newRuntime();
    const context = runtime.newContext();
    const allocate = () => {
      const result = context.evalCode('globalThis.keep = new ArrayBuffer(64 * 1024 * 1024); keep.byteLength');
      const outcome =
        result.error === undefined ? context.getNumber(result.value) : context.dump(result.error);
      result.dispose();
      return outcome;
    };
    lease.limitGrowth(lease.linearBytes());
    expect(allocate()).toMatchObject({ name: 'InternalError', message: 'out of memory' });
    lease.limitGrowth(undefined);
    expect(allocate()).toBe(64 * MiB);
    context.evalCode('keep = null').dispose();
    context.dispose();
    runtime.dispose();
    lease.release();
  });
});
