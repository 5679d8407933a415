import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseManifest } from '../../capability/parse.js';
import { QuotaLedger } from '../quota/ledger.js';
import type { GuestFetchRequest, GuestLogEntry } from './host-bindings.js';
import { StandardTier } from './standard-tier.js';
import type { CodeSpec, WasmSandbox } from './wasm-sandbox.js';

let tier: StandardTier;
const started: WasmSandbox[] = [];

beforeAll(async () => {
  tier = await StandardTier.create({ moduleHeapBudgetBytes: 256 * 1024 * 1024 });
});
afterAll(async () => {
  await Promise.all(started.map((sandbox) => sandbox.stop()));
});

function manifest(capabilities: unknown = {}, quotas: unknown = {}) {
  return parseManifest({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'test',
    capabilities,
    quotas: { memory_mb: 8, cpu_ms_per_request: 500, ...(quotas as object) },
  });
}

async function start(spec: Partial<CodeSpec> = {}): Promise<WasmSandbox> {
  const sandbox = await tier.start({ manifest: manifest(), ...spec });
  started.push(sandbox);
  return sandbox;
}

describe('WasmSandbox.run', () => {
  it('returns the completion value and exposes input as a global', async () => {
    const sandbox = await start();
    expect((await sandbox.run('1 + 2')).value).toBe(3);
    expect((await sandbox.run('input.items.map((x) => x * 2)', { items: [1, 2] })).value).toEqual([2, 4]);
    expect((await sandbox.run('undefined')).value).toBeUndefined();
  });

  it('awaits a promise result', async () => {
    const sandbox = await start();
    const result = await sandbox.run('(async () => { await null; return { ok: true } })()');
    expect(result.value).toEqual({ ok: true });
  });

  it('keeps guest globals across runs of the same sandbox, not across sandboxes', async () => {
    const one = await start();
    const two = await start();
    await one.run('globalThis.counter = 41');
    expect((await one.run('++counter')).value).toBe(42);
    expect((await two.run('typeof counter')).value).toBe('undefined');
  });

  it('reports a guest exception as WASM_GUEST_ERROR with its message', async () => {
    const sandbox = await start();
    await expect(sandbox.run('throw new TypeError("bad thing")')).rejects.toMatchObject({
      code: 'WASM_GUEST_ERROR',
      message: 'guest threw TypeError: bad thing',
    });
    await expect(sandbox.run('Promise.reject(new Error("async bad"))')).rejects.toThrow(
      'guest threw Error: async bad',
    );
    expect((await sandbox.run('"still usable"')).value).toBe('still usable');
  });

  it('attack: a long error message (200,000 characters here; 10 MB through oacp run) is shown as its first 2,048 characters and how many more there were', async () => {
    const sandbox = await start();
    const error = await sandbox.run('throw new Error("😀".repeat(1e5))').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'WASM_GUEST_ERROR' });
    const message = (error as Error).message;
    // 'Error: ' (7 units) then emoji pairs: unit 2,048 would split one, so 2,047 are kept.
    expect(message).toBe(`guest threw Error: ${'😀'.repeat(1020)}… (${200_007 - 2048} more characters)`);
  });

  it('refuses overlapping runs', async () => {
    let release: (() => void) | undefined;
    const sandbox = await start({
      manifest: manifest({ tools: { allow: ['wait'] } }),
      bindings: { callTool: () => new Promise((resolve) => (release = () => resolve(1))) },
    });
    const first = sandbox.run('oacp.tools.call("wait", {})');
    await expect(sandbox.run('1')).rejects.toMatchObject({ code: 'WASM_BUSY' });
    // The call crosses from the guest thread; wait until the binding holds it.
    await vi.waitFor(() => expect(release).toBeDefined(), { timeout: 15_000 });
    release?.();
    expect((await first).value).toBe(1);
  });

  it('says when the guest awaits something that can never settle', async () => {
    const sandbox = await start();
    await expect(sandbox.run('new Promise(() => {})')).rejects.toMatchObject({
      code: 'WASM_STALLED',
      message: expect.stringContaining('nothing can settle'),
    });
  });

  it('stops a run that waits on the host past its wall-clock limit', async () => {
    const sandbox = await start({
      manifest: manifest({ tools: { allow: ['hang'] } }),
      bindings: { callTool: () => new Promise(() => undefined) },
      options: { wallTimeoutMs: 50 },
    });
    await expect(sandbox.run('oacp.tools.call("hang", {})')).rejects.toMatchObject({
      code: 'WASM_TIMEOUT',
      message: 'run exceeded its wall-clock limit of 50 ms',
    });
  });

  it('stop() ends a run in progress and refuses later runs', async () => {
    const sandbox = await start({
      manifest: manifest({ tools: { allow: ['hang'] } }),
      bindings: { callTool: () => new Promise(() => undefined) },
    });
    const running = sandbox.run('oacp.tools.call("hang", {})');
    await new Promise((resolve) => setTimeout(resolve, 10));
    await sandbox.stop();
    await expect(running).rejects.toMatchObject({ code: 'WASM_STOPPED' });
    await expect(sandbox.run('1')).rejects.toMatchObject({ code: 'WASM_STOPPED' });
  });

  it('refuses a stack larger than the tier can enforce', async () => {
    await expect(
      tier.start({ manifest: manifest(), options: { maxStackBytes: 1024 * 1024 } }),
    ).rejects.toThrow('outside what the standard tier can enforce safely');
  });
});

describe('host functions', () => {
  it('exposes only what is both bound and granted', async () => {
    const bare = await start({
      bindings: { callTool: async () => 1, fetch: async () => ({ status: 200, body: '' }) },
    });
    const names = await bare.run('[typeof oacp.tools, typeof fetch, typeof oacp.context, typeof oacp.log]');
    expect(names.value).toEqual(['undefined', 'undefined', 'undefined', 'function']);
  });

  it('passes tool calls through as JSON and returns JSON', async () => {
    const calls: unknown[] = [];
    const sandbox = await start({
      manifest: manifest({ tools: { allow: ['echo'] } }),
      bindings: {
        callTool: async (name, args) => {
          calls.push({ name, args });
          return { echoed: args, at: new Date(0), fn: () => 1 };
        },
      },
    });
    const result = await sandbox.run('oacp.tools.call("echo", { q: [1, "two"], skip: undefined })');
    expect(calls).toEqual([{ name: 'echo', args: { q: [1, 'two'] } }]);
    expect(result.value).toEqual({ echoed: { q: [1, 'two'] }, at: '1970-01-01T00:00:00.000Z' });
  });

  it('reports a failing binding to the guest as a rejected promise', async () => {
    const sandbox = await start({
      manifest: manifest({ tools: { allow: ['flaky'] } }),
      bindings: {
        callTool: async () => {
          throw new Error('backend unavailable');
        },
      },
    });
    const result = await sandbox.run('oacp.tools.call("flaky", {}).catch((e) => e.message)');
    expect(result.value).toBe('tool "flaky" failed: backend unavailable');
  });

  it('reads and writes context through the bindings', async () => {
    const store = new Map<string, unknown>([['greeting', 'hello']]);
    const sandbox = await start({
      bindings: {
        contextGet: async (key) => store.get(key),
        contextPut: async (key, value) => {
          store.set(key, value);
        },
      },
    });
    const result = await sandbox.run(
      '(async () => { const g = await oacp.context.get("greeting"); await oacp.context.put("reply", g + " back"); return g })()',
    );
    expect(result.value).toBe('hello');
    expect(store.get('reply')).toBe('hello back');
  });

  it('fetches allowlisted URLs through the binding and counts egress', async () => {
    const requests: GuestFetchRequest[] = [];
    const sandbox = await start({
      manifest: manifest({ network: { allowlist: ['api.example.com:443'] } }),
      bindings: {
        fetch: async (request) => {
          requests.push(request);
          return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"n":1}' };
        },
      },
    });
    const result = await sandbox.run(
      'fetch("https://api.example.com/v1?q=1", { method: "post", headers: { "x-a": "b" }, body: "hi" }).then(async (r) => [r.ok, r.status, (await r.json()).n])',
    );
    expect(result.value).toEqual([true, 200, 1]);
    expect(requests).toEqual([
      { url: 'https://api.example.com/v1?q=1', method: 'POST', headers: { 'x-a': 'b' }, body: 'hi' },
    ]);
    expect(result.usage.egressRequests).toBe(1);
  });

  it('collects logs, hands them to the log binding and counts them as output', async () => {
    const seen: GuestLogEntry[] = [];
    const sandbox = await start({ bindings: { log: (entry) => seen.push(entry) } });
    const result = await sandbox.run('console.log("a", { b: 1 }); console.error("oops"); oacp.log("c"); 0');
    expect(result.logs).toEqual(['a {"b":1}', 'oops', 'c']);
    expect(seen.map((entry) => entry.level)).toEqual(['info', 'error', 'info']);
    expect(result.usage.outputBytes).toBe('a {"b":1}'.length + 1 + 'oops'.length + 1 + 'c'.length + 1 + 1);
  });

  it('charges tool calls to api_calls_per_hour in a shared ledger', async () => {
    const m = manifest({ tools: { allow: ['t'] } }, { api_calls_per_hour: 2, burst: 0 });
    const ledger = new QuotaLedger(m.quotas);
    const sandbox = await start({ manifest: m, ledger, bindings: { callTool: async () => 'ok' } });
    const result = await sandbox.run(
      '(async () => { const out = []; for (let i = 0; i < 3; i++) out.push(await oacp.tools.call("t", {}).catch((e) => e.message)); return out })()',
    );
    expect(result.value).toEqual([
      'ok',
      'ok',
      expect.stringMatching(/^oacp\.tools\.call refused: quota api_calls_per_hour exceeded: limit 2\/hour/),
    ]);
    expect(ledger.usage().api_calls_per_hour).toMatchObject({ used: 2, refused: 1 });
  });

  it('interleaves two sandboxes waiting on the host', async () => {
    let releaseSlow: ((value: unknown) => void) | undefined;
    const slow = await start({
      manifest: manifest({ tools: { allow: ['slow'] } }),
      bindings: { callTool: () => new Promise((resolve) => (releaseSlow = resolve)) },
    });
    const fast = await start();
    const slowRun = slow.run('oacp.tools.call("slow", {}).then((v) => v + 1)');
    expect((await fast.run('[1, 2, 3].reduce((a, b) => a + b)')).value).toBe(6);
    await vi.waitFor(() => expect(releaseSlow).toBeDefined(), { timeout: 15_000 });
    releaseSlow?.(41);
    expect((await slowRun).value).toBe(42);
  });
});

describe('usage', () => {
  it('reports per-run usage and keeps running totals', async () => {
    const sandbox = await start();
    const first = await sandbox.run('let s = 0; for (let i = 0; i < 100000; i++) s += i; s');
    const second = await sandbox.run('"ab"');
    expect(first.usage.cpuMs).toBeGreaterThan(0);
    expect(first.usage.memoryPeakBytes).toBeGreaterThan(0);
    expect(second.usage.outputBytes).toBe(4);
    expect(sandbox.usage().outputBytes).toBe(first.usage.outputBytes + 4);
    expect(sandbox.usage().cpuMs).toBeCloseTo(first.usage.cpuMs + second.usage.cpuMs, 5);
    expect(sandbox.kind).toBe('code');
    expect(sandbox.tier).toBe('standard');
  });
});
