import { afterAll, describe, expect, it } from 'vitest';
import { StandardTier } from '../../src/airlock/wasm/standard-tier.js';
import type { WasmSandbox } from '../../src/airlock/wasm/wasm-sandbox.js';
import { parseManifest } from '../../src/capability/parse.js';

/**
 * Native built-ins never reach QuickJS's interrupt handler: a guest inside
 * `Array.prototype.sort` on 4e6 elements used to run for seconds past its
 * CPU limit, and since it ran on the gateway's thread, a neighbour's wall
 * limit could not fire and the event loop stood still. Each case below
 * starts such a call under a 1.5 s CPU limit next to a neighbour with a
 * 500 ms wall limit on the SAME guest thread (the worst case), and checks:
 * the neighbour is stopped first (a wall clock of 500 ms always ends before
 * 1.5 s of CPU, if the gateway's thread is free to notice), the gateway's
 * own timers keep firing, the offender is stopped with WASM_CPU_LIMIT, and
 * the tier keeps serving new guests.
 *
 * Sizes: on the development container each call needs 3-9 s of CPU, two to
 * six times the limit, so none can finish before it is stopped.
 */
const ATTACKS: Record<string, { code: string; native: boolean }> = {
  'Array.prototype.sort on 4e6 elements': {
    // Filled natively (a guest-side loop would spend the budget before the sort starts); sorting
    // numbers compares their strings, and Math.PI's is the costly kind.
    code: 'new Array(4e6).fill(Math.PI).sort().length',
    native: true,
  },
  'a typed-array fill and join of 2e7 elements': {
    code: 'new Float64Array(2e7).fill(0.1).join().length',
    native: true,
  },
  'JSON.stringify of a huge value': {
    code: 'JSON.stringify(new Array(4e6).fill({ a: [1, 2, 3], s: "xxxxxxxxxxxxxxxxxxxx" })).length',
    native: true,
  },
  'JSON.parse of a huge text': {
    code: `JSON.parse('[' + '{"a":1,"b":[2]},'.repeat(3e6) + '0]').length`,
    native: true,
  },
  // QuickJS's regex engine does poll the interrupt handler; the limit must hold all the same.
  'catastrophic regex backtracking': {
    code: `/^(a+)+$/.test('a'.repeat(40) + 'b')`,
    native: false,
  },
};

const tiers: StandardTier[] = [];
afterAll(() => {
  for (const tier of tiers) tier.close();
});

function manifest(quotas: Record<string, number>, tools: string[] = []) {
  return parseManifest({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'native-attack',
    capabilities: { tools: { allow: tools } },
    quotas,
  });
}

async function tier(threads: number): Promise<StandardTier> {
  const created = await StandardTier.create({ threads });
  tiers.push(created);
  return created;
}

// On a crowded CI host 1.5 s of CPU can take many seconds of wall time: the wall limit must not come first.
const offenderSpec = {
  manifest: manifest({ memory_mb: 1024, cpu_ms_per_request: 1500 }),
  options: { wallTimeoutMs: 120_000 },
};
const SLOW = { timeout: 150_000 };

/** A guest waiting on a host call that never answers: only its 500 ms wall limit can end the run. */
function neighbourSpec() {
  return {
    manifest: manifest({ memory_mb: 8, cpu_ms_per_request: 1500 }, ['wait']),
    bindings: { callTool: () => new Promise<unknown>(() => undefined) },
    options: { wallTimeoutMs: 500 },
  };
}

/** Counts ticks of a timer on the gateway's (this) thread while `work` runs. */
async function ticksDuring<T>(work: Promise<T>): Promise<number> {
  let ticks = 0;
  const timer = setInterval(() => {
    ticks += 1;
  }, 50);
  await work.catch(() => undefined);
  clearInterval(timer);
  return ticks;
}

describe('native built-ins cannot outrun the standard tier limits', () => {
  for (const [name, attack] of Object.entries(ATTACKS)) {
    it(
      `${name}: stopped at its 1.5 s CPU limit; the neighbour's 500 ms wall limit fires first; the event loop runs`,
      SLOW,
      async () => {
        const standard = await tier(1);
        const offender: WasmSandbox = await standard.start(offenderSpec);
        const neighbour: WasmSandbox = await standard.start(neighbourSpec());
        const order: string[] = [];

        const offenderRun = offender.run(attack.code);
        const neighbourRun = neighbour.run('oacp.tools.call("wait", {})');
        offenderRun.catch(() => order.push('offender'));
        neighbourRun.catch(() => order.push('neighbour'));
        const ticks = await ticksDuring(offenderRun);

        await expect(neighbourRun).rejects.toMatchObject({
          code: 'WASM_TIMEOUT',
          message: 'run exceeded its wall-clock limit of 500 ms',
        });
        await expect(offenderRun).rejects.toMatchObject({
          code: 'WASM_CPU_LIMIT',
          message: expect.stringContaining('1500 ms'),
        });
        expect(order).toEqual(['neighbour', 'offender']);
        // 1.5 s of CPU take at least 1.5 s: a free event loop ticks ~30 times at 50 ms; ask for far fewer.
        expect(ticks).toBeGreaterThanOrEqual(5);
        if (attack.native) {
          await expect(offenderRun).rejects.toThrow('inside a native built-in');
          // Its thread was terminated: the neighbour that shared it says so, and the tier serves newcomers.
          await expect(neighbour.run('1')).rejects.toMatchObject({
            code: 'WASM_STOPPED',
            message: expect.stringContaining('guest thread was terminated'),
          });
        }
        const newcomer = await standard.start(neighbourSpec());
        expect((await newcomer.run('6 * 7')).value).toBe(42);
      },
    );
  }

  it('a guest on another thread keeps its state when a thread is terminated', SLOW, async () => {
    const standard = await tier(2);
    const offender = await standard.start(offenderSpec);
    const bystander = await standard.start(neighbourSpec());
    expect(standard.threads()).toBe(2);
    await bystander.run('globalThis.kept = "still here"');
    await expect(offender.run(ATTACKS['Array.prototype.sort on 4e6 elements']?.code ?? '')).rejects.toThrow(
      'inside a native built-in',
    );
    expect((await bystander.run('kept')).value).toBe('still here');
  });

  it(
    'a guest still inside a native call after its wall limit: the run fails on time, then its thread goes',
    SLOW,
    async () => {
      const standard = await tier(1);
      const stuck = await standard.start({
        manifest: manifest({ memory_mb: 1024, cpu_ms_per_request: 120_000 }),
        options: { wallTimeoutMs: 300 },
      });
      const run = stuck.run(ATTACKS['Array.prototype.sort on 4e6 elements']?.code ?? '');
      const ticks = await ticksDuring(run);
      await expect(run).rejects.toMatchObject({
        code: 'WASM_TIMEOUT',
        message: 'run exceeded its wall-clock limit of 300 ms',
      });
      expect(ticks).toBeGreaterThanOrEqual(1);
      // Told to stop, it cannot notice inside sort(): the watchdog terminates its thread instead of waiting 120 s.
      await expect.poll(() => standard.threads(), { timeout: 20_000, interval: 50 }).toBe(0);
      await expect(stuck.run('1')).rejects.toMatchObject({
        code: 'WASM_STOPPED',
        message: expect.stringContaining('kept executing 500 ms after it was told to stop'),
      });
    },
  );
});
