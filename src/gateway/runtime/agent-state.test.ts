import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StandardTier } from '../../airlock/wasm/standard-tier.js';
import type { WasmSandbox } from '../../airlock/wasm/wasm-sandbox.js';
import { parseManifest } from '../../capability/parse.js';
import { captureState, restoreState, stateDigest } from './agent-state.js';

let tier: StandardTier;
const started: WasmSandbox[] = [];
beforeAll(async () => {
  tier = await StandardTier.create({ moduleHeapBudgetBytes: 128 * 1024 * 1024 });
});
afterAll(async () => {
  await Promise.all(started.map((sandbox) => sandbox.stop()));
  await tier.close();
});

const PROGRAM =
  'var count = 0; var notes = { last: null }; var helper = () => 1; function main(input) { count += 1; notes.last = input; return count; }';

async function start(): Promise<WasmSandbox> {
  const manifest = parseManifest({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'state',
    quotas: { memory_mb: 8 },
  });
  const sandbox = await tier.start({ manifest });
  started.push(sandbox);
  await sandbox.run(PROGRAM);
  return sandbox;
}

describe('agent state between nodes', () => {
  it('captures the plain data globals (not functions, not the host globals) and restores them after the program', async () => {
    const source = await start();
    await source.run('main("a")', null);
    await source.run('main(input)', 'b');
    const { state, digest } = await captureState(source);
    expect(state).toEqual({ count: 2, notes: { last: 'b' } });
    expect(digest).toBe(stateDigest({ notes: { last: 'b' }, count: 2 }));

    const target = await start();
    await restoreState(target, state);
    expect((await target.run('main(input)', 'c')).value).toBe(3);
    expect((await target.run('typeof oacp.log + typeof helper')).value).toBe('functionfunction');
  });
});
