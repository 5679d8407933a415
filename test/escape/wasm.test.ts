import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GuestFetchRequest } from '../../src/airlock/wasm/host-bindings.js';
import { StandardTier } from '../../src/airlock/wasm/standard-tier.js';
import type { CodeSpec, WasmSandbox } from '../../src/airlock/wasm/wasm-sandbox.js';
import { parseManifest } from '../../src/capability/parse.js';

/**
 * Escape corpus for the standard tier. Every case checks two things: the guest
 * did not get out (no binding called, no host object touched, the sandbox or
 * its neighbours still work) and the error says what happened.
 */
let tier: StandardTier;
const sandboxes: WasmSandbox[] = [];
const toolCalls: { name: string; args: unknown }[] = [];
const fetches: GuestFetchRequest[] = [];

const bindings = {
  callTool: async (name: string, args: unknown) => {
    toolCalls.push({ name, args });
    return { ok: true };
  },
  fetch: async (request: GuestFetchRequest) => {
    fetches.push(request);
    return { status: 200, body: 'fetched' };
  },
};

function manifest(capabilities: unknown = {}, quotas: unknown = {}) {
  return parseManifest({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'escape',
    capabilities,
    quotas: { memory_mb: 8, cpu_ms_per_request: 150, max_output_bytes: 64 * 1024, ...(quotas as object) },
  });
}

async function sandbox(spec: Partial<CodeSpec> = {}): Promise<WasmSandbox> {
  const created = await tier.start({ manifest: manifest(), ...spec });
  sandboxes.push(created);
  return created;
}

const granted = () =>
  sandbox({
    manifest: manifest({
      tools: { allow: ['search'], deny: ['search.admin'] },
      network: { allowlist: ['*.example.com'] },
    }),
    bindings,
  });

beforeAll(async () => {
  tier = await StandardTier.create({ moduleHeapBudgetBytes: 256 * 1024 * 1024 });
});
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.stop()));
});

describe('standard tier escape corpus', () => {
  it('1. host functions that were not granted do not exist, and calling them fails in the guest', async () => {
    const bare = await sandbox({ bindings });
    const before = toolCalls.length + fetches.length;
    const probe = await bare.run(`[
      typeof oacp.tools, typeof fetch, typeof oacp.context,
      (() => { try { oacp.tools.call('search', {}); return 'called' } catch (e) { return e.name + ': ' + e.message } })(),
    ]`);
    expect(probe.value).toEqual([
      'undefined',
      'undefined',
      'undefined',
      expect.stringMatching(/^TypeError: /),
    ]);
    expect(toolCalls.length + fetches.length).toBe(before);
  });

  it('2. no ambient authority: require, process, module, timers, std/os are absent', async () => {
    const guest = await sandbox();
    const probe = await guest.run(`[
      typeof require, typeof process, typeof module, typeof exports, typeof setTimeout,
      typeof std, typeof os, typeof WebAssembly, typeof XMLHttpRequest, typeof Deno, typeof Bun,
      Function('return typeof process')(),
    ]`);
    expect(probe.value).toEqual(Array(12).fill('undefined'));
    await expect(guest.run('require("fs")')).rejects.toThrow(
      "guest threw ReferenceError: 'require' is not defined",
    );
  });

  it('3. the guest global holds only the language plus oacp/console/input', async () => {
    const guest = await sandbox();
    const names = (await guest.run('Object.getOwnPropertyNames(globalThis)')).value as string[];
    const extra = names.filter((name) => !/^[A-Z]/.test(name));
    expect(extra.sort()).toEqual(
      [
        'console',
        'decodeURI',
        'decodeURIComponent',
        'encodeURI',
        'encodeURIComponent',
        'escape',
        'eval',
        'globalThis',
        'input',
        'isFinite',
        'isNaN',
        'oacp',
        'parseFloat',
        'parseInt',
        'undefined',
        'unescape',
      ].sort(),
    );
  });

  it('4. dynamic import() and static import cannot load anything', async () => {
    const guest = await sandbox();
    await expect(guest.run('import("fs")')).rejects.toThrow(
      "guest threw ReferenceError: could not load module 'fs'",
    );
    await expect(guest.run('import fs from "fs"; fs')).rejects.toMatchObject({
      code: 'WASM_GUEST_ERROR',
      message: expect.stringContaining('SyntaxError'),
    });
  });

  it('5. the oacp API is frozen and the raw host function behind it is unreachable', async () => {
    const guest = await granted();
    const probe = await guest.run(`
      'use strict';
      const attempts = [];
      try { oacp.tools.call = () => 'forged' } catch (e) { attempts.push(e.name) }
      try { oacp.extra = 1 } catch (e) { attempts.push(e.name) }
      try { globalThis.oacp = {} } catch (e) { attempts.push(e.name) }
      const seen = new Set();
      const found = [];
      const walk = (value, depth) => {
        if (depth > 4 || value === null || (typeof value !== 'object' && typeof value !== 'function') || seen.has(value)) return;
        seen.add(value);
        if (typeof value === 'function' && value.name === 'host') found.push('host');
        for (const key of Reflect.ownKeys(value)) {
          try { walk(value[key], depth + 1) } catch (e) {}
        }
      };
      walk(globalThis, 0);
      [attempts, Object.isFrozen(oacp), Object.isFrozen(oacp.tools), found]
    `);
    expect(probe.value).toEqual([['TypeError', 'TypeError', 'TypeError'], true, true, []]);
  });

  it('6. prototype pollution in a result is refused at the boundary and never reaches host objects', async () => {
    const guest = await sandbox();
    await expect(guest.run('JSON.parse(\'{"__proto__": {"polluted": "yes"}}\')')).rejects.toMatchObject({
      code: 'WASM_BAD_VALUE',
      message:
        'the result contains the key "__proto__", which is refused at the sandbox boundary (prototype pollution)',
    });
    await expect(guest.run('({ constructor: { prototype: { polluted: "yes" } } })')).rejects.toMatchObject({
      code: 'WASM_BAD_VALUE',
      message: expect.stringContaining('which is refused at the sandbox boundary (prototype pollution)'),
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('7. prototype pollution in tool arguments never reaches the tool binding', async () => {
    const guest = await granted();
    const before = toolCalls.length;
    const result = await guest.run(
      `oacp.tools.call('search', JSON.parse('{"q": 1, "__proto__": {"isAdmin": true}}')).catch((e) => e.message)`,
    );
    expect(result.value).toBe(
      'tool arguments contains the key "__proto__", which is refused at the sandbox boundary (prototype pollution)',
    );
    expect(toolCalls.length).toBe(before);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('8. deep recursion hits the stack limit; the sandbox survives', async () => {
    const guest = await sandbox();
    await expect(guest.run('function f(n) { return f(n + 1) + 1 } f(0)')).rejects.toMatchObject({
      code: 'WASM_STACK_LIMIT',
      message: 'guest exceeded its stack limit of 256 KiB (recursion too deep)',
    });
    expect((await guest.run('"alive"')).value).toBe('alive');
  });

  it('9. a huge allocation is refused by the memory limit', async () => {
    const guest = await sandbox();
    await expect(guest.run('new ArrayBuffer(512 * 1024 * 1024).byteLength')).rejects.toMatchObject({
      code: 'WASM_MEMORY_LIMIT',
      message: expect.stringContaining('memory limit of 8 MiB (quota memory_mb)'),
    });
    await expect(
      guest.run('globalThis.keep = []; for (;;) keep.push("x".repeat(65536) + keep.length)'),
    ).rejects.toMatchObject({ code: 'WASM_MEMORY_LIMIT' });
  });

  it('10. an infinite loop is stopped at the CPU deadline, even if it tries to catch the interrupt', async () => {
    const guest = await sandbox();
    await expect(guest.run('while (true) { try { for (;;) {} } catch (e) {} }')).rejects.toMatchObject({
      code: 'WASM_CPU_LIMIT',
      message: 'guest used its CPU limit of 150 ms per request (quota cpu_ms_per_request) and was stopped',
    });
    expect((await guest.run('"next run gets a fresh budget"')).value).toBe('next run gets a fresh budget');
  });

  it('11. a guest that never yields inside a promise job is stopped too', async () => {
    const guest = await sandbox();
    await expect(guest.run('Promise.resolve().then(() => { for (;;) {} })')).rejects.toMatchObject({
      code: 'WASM_CPU_LIMIT',
    });
    // An endless job chain also allocates: whichever limit it reaches first stops it.
    const spin = await guest
      .run('(function spin() { return Promise.resolve().then(spin) })()')
      .catch((e) => e);
    expect(['WASM_CPU_LIMIT', 'WASM_MEMORY_LIMIT']).toContain(spin.code);
    expect(spin.message).toMatch(/quota (cpu_ms_per_request|memory_mb)/);
  });

  it('12. a log flood is cut off at max_output_bytes', async () => {
    const guest = await sandbox();
    await expect(
      guest.run('for (;;) { try { console.log("x".repeat(1000)) } catch (e) {} }'),
    ).rejects.toMatchObject({
      code: 'WASM_OUTPUT_LIMIT',
      message: expect.stringContaining(
        'guest output flood stopped: quota max_output_bytes exceeded: limit 65536',
      ),
    });
  });

  it('13. an oversized result is refused at max_output_bytes', async () => {
    const guest = await sandbox();
    await expect(guest.run('"y".repeat(100 * 1024)')).rejects.toMatchObject({
      code: 'WASM_OUTPUT_LIMIT',
      message: expect.stringContaining('the result (102402 bytes) was refused'),
    });
  });

  it('14. fetch to a host off the allowlist is refused before the binding runs', async () => {
    const guest = await granted();
    const before = fetches.length;
    const result = await guest.run('fetch("https://evil.net/steal").catch((e) => e.message)');
    expect(result.value).toBe(
      'fetch to https://evil.net denied: evil.net:443 is not in the network allowlist',
    );
    expect(fetches.length).toBe(before);
    expect(result.usage.egressDenied).toBe(1);
  });

  it.each([
    ['http://169.254.169.254/latest/meta-data/', 'link-local'],
    ['http://2852039166/latest/meta-data/', 'link-local'],
    ['http://[::ffff:a9fe:a9fe]/', 'link-local'],
    [
      'http://metadata.google.internal/computeMetadata/v1/',
      'denied by default unless the allowlist names it exactly',
    ],
    [
      'http://localhost:8080/',
      'not in the network allowlist (and localhost is a host-local or metadata name',
    ],
    ['file:///etc/passwd', 'only http and https'],
    ['https://user:pw@api.example.com/', 'embedded credentials'],
  ])('15. fetch to %s is refused (%s)', async (url, why) => {
    const guest = await sandbox({
      manifest: manifest({ network: { allowlist: ['*.example.com', '*.google.internal'] } }),
      bindings,
    });
    const before = fetches.length;
    const result = await guest.run(`fetch(${JSON.stringify(url)}).catch((e) => e.message)`);
    expect(result.value).toEqual(expect.stringContaining(why));
    expect(fetches.length).toBe(before);
  });

  it('16. a tool off the allowlist, or on the denylist, is refused before the binding runs', async () => {
    const guest = await granted();
    const before = toolCalls.length;
    const result = await guest.run(`Promise.all([
      oacp.tools.call('shell.exec', { cmd: 'id' }).catch((e) => e.message),
      oacp.tools.call('search.admin', {}).catch((e) => e.message),
    ])`);
    expect(result.value).toEqual([
      'oacp.tools.call denied: tool "shell.exec" is not in tools.allow',
      'oacp.tools.call denied: tool "search.admin" is denied by tools.deny entry "search.admin"',
    ]);
    expect(toolCalls.length).toBe(before);
  });

  it('17. a JSON bomb as input is refused on the host side, deep or huge', async () => {
    const guest = await sandbox();
    let deep: unknown = 0;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    await expect(guest.run('input', deep)).rejects.toMatchObject({ code: 'WASM_BAD_INPUT' });
    await expect(guest.run('input', { text: 'z'.repeat(2 * 1024 * 1024) })).rejects.toMatchObject({
      code: 'WASM_BAD_INPUT',
      message: expect.stringContaining('more than the 1048576-byte limit'),
    });
    let nested: unknown = 0;
    for (let i = 0; i < 200; i++) nested = [nested];
    await expect(guest.run('input', nested)).rejects.toThrow(
      'input nests 200 levels deep, more than the 128-level limit',
    );
    expect((await guest.run('"alive"')).value).toBe('alive');
  });

  it('18. a result that runs code while being serialized is still bounded by the CPU limit', async () => {
    const guest = await sandbox();
    await expect(guest.run('({ get trap() { for (;;) {} } })')).rejects.toMatchObject({
      code: 'WASM_CPU_LIMIT',
    });
    await expect(guest.run('({ toJSON() { while (true) {} } })')).rejects.toMatchObject({
      code: 'WASM_CPU_LIMIT',
    });
  });

  it('19. host answers arrive as fresh guest values, never host references', async () => {
    const secret = { token: 'host-only' };
    const guest = await sandbox({
      manifest: manifest({ tools: { allow: ['leak'] } }),
      bindings: { callTool: async () => ({ nested: secret, fn: () => secret }) },
    });
    const result = await guest.run(`oacp.tools.call('leak', {}).then((v) => {
      v.nested.token = 'changed by guest';
      return [typeof v.fn, Object.getPrototypeOf(v) === Object.prototype, v.nested.token];
    })`);
    expect(result.value).toEqual(['undefined', true, 'changed by guest']);
    expect(secret.token).toBe('host-only');
  });

  it('20. network requests beyond the quota are refused with the quota named', async () => {
    const guest = await sandbox({
      manifest: manifest(
        { network: { allowlist: ['api.example.com'] } },
        { network_requests_per_min: 1, burst: 0 },
      ),
      bindings,
    });
    const result = await guest.run(`(async () => [
      await fetch('https://api.example.com/1').then((r) => r.status),
      await fetch('https://api.example.com/2').catch((e) => e.message),
    ])()`);
    expect(result.value).toEqual([
      200,
      expect.stringMatching(
        /^fetch to https:\/\/api\.example\.com refused: quota network_requests_per_min exceeded: limit 1\/min/,
      ),
    ]);
  });
});
