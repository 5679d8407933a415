import { afterAll, describe, expect, it } from 'vitest';
import { StandardTier } from '../../src/airlock/wasm/standard-tier.js';
import { parseManifest } from '../../src/capability/parse.js';
import { executeCode } from '../../src/run/execute-code.js';

/**
 * Issue 9 (a receipt claims only the CPU it measured), for a guest whose thread the watchdog
 * terminates inside a native built-in, where the guest thread never reports its run:
 * - past its CPU limit, the run was receipted with exactly its quota (1500 ms), a figure
 *   nobody measured; it is now what the watchdog measured, over the limit plus its grace;
 * - past its wall limit, the run was receipted with 0 ms of CPU (its usage was read before
 *   the thread was lost), though it had computed for the wall limit and the stop grace.
 * Real standard tier, real guest threads, real terminations.
 */
const tiers: StandardTier[] = [];
afterAll(() => {
  for (const tier of tiers) tier.close();
});

const SORT = 'new Array(4e6).fill(Math.PI).sort().length';

function manifest(cpuMs: number) {
  return parseManifest({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'native-cpu',
    quotas: { memory_mb: 1024, cpu_ms_per_request: cpuMs },
  });
}

describe('standard tier: the receipt of a run whose guest thread was terminated', () => {
  it('past its CPU limit inside sort(): usage.cpuMs is measured (over limit + grace), not the quota', {
    timeout: 150_000,
  }, async () => {
    const tier = await StandardTier.create({ threads: 1, sandbox: { wallTimeoutMs: 120_000 } });
    tiers.push(tier);
    const outcome = await executeCode({ tier, code: SORT, manifest: manifest(1500) });
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error).toMatch(/^WASM_CPU_LIMIT: .*inside a native built-in/);
    const { usage, exit } = outcome.statement.predicate;
    expect(exit).toMatchObject({ killedBy: 'WASM_CPU_LIMIT' });
    expect(usage.cpuMs).toBeGreaterThan(1600);
  });

  it('past its wall limit inside sort(): usage.cpuMs counts what it computed until its thread went', {
    timeout: 150_000,
  }, async () => {
    const tier = await StandardTier.create({ threads: 1, sandbox: { wallTimeoutMs: 300 } });
    tiers.push(tier);
    const outcome = await executeCode({ tier, code: SORT, manifest: manifest(120_000) });
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error).toBe('WASM_TIMEOUT: run exceeded its wall-clock limit of 300 ms');
    // 300 ms to the wall limit and 500 ms of stop grace inside sort(): some CPU, however busy the host (it was 0).
    expect(outcome.statement.predicate.usage.cpuMs).toBeGreaterThan(20);
  });
});
