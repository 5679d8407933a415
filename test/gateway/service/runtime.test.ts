import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { StoreQuotaEngine } from '../../../src/airlock/quota/store-engine.js';
import { StandardTier } from '../../../src/airlock/wasm/standard-tier.js';
import { verifyReceiptEnvelope } from '../../../src/attest/verify-receipt.js';
import { ManifestSchema } from '../../../src/capability/manifest.js';
import type { HandOver } from '../../../src/cluster/hand-over.js';
import type { Member } from '../../../src/cluster/member.js';
import { generateEd25519, keySigner } from '../../../src/core/ed25519.js';
import { GatewayMetrics } from '../../../src/gateway/observability/gateway-metrics.js';
import { Logger, silentLogger } from '../../../src/gateway/observability/logger.js';
import { Tracing } from '../../../src/gateway/observability/tracing.js';
import { AgentMigrations } from '../../../src/gateway/runtime/agent-migration.js';
import {
  type AgentProgram,
  AgentRuntime,
  type MigratedState,
} from '../../../src/gateway/runtime/agent-runtime.js';
import { MemoryContext } from '../../../src/gateway/runtime/context-access.js';
import { defineTool } from '../../../src/gateway/runtime/define-tool.js';
import { RuntimeError } from '../../../src/gateway/runtime/errors.js';
import { GatewayPolicy } from '../../../src/gateway/runtime/policy/gateway-policy.js';
import { loadGlobalPolicies } from '../../../src/gateway/runtime/policy/load.js';
import { DEFAULT_GLOBAL_POLICY } from '../../../src/gateway/runtime/policy/schema.js';
import { type GatewayQuotaOptions, GatewayQuotas } from '../../../src/gateway/runtime/quotas.js';
import { ReceiptRecorder } from '../../../src/gateway/runtime/receipt-recorder.js';
import { ToolCaller } from '../../../src/gateway/runtime/tool-caller.js';
import { ToolRegistry } from '../../../src/gateway/runtime/tool-registry.js';
import { TransferKey } from '../../../src/gateway/runtime/transfer-key.js';
import { didKeyFromPublicKey } from '../../../src/identity/did-key.js';
import { defaultPolicyEngine } from '../../../src/mcp/default-policy.js';
import { OacpNode } from '../../../src/node/oacp-node.js';
import { openStore } from '../../../src/store/open-store.js';
import type { Store } from '../../../src/store/types.js';
import { freshHome } from './node-home.js';

const signer = keySigner(generateEd25519().privateKey);
const did = didKeyFromPublicKey(signer.publicKey);

function program(
  overrides: Partial<AgentProgram> & { tools?: string[]; quotas?: Record<string, number> } = {},
): AgentProgram {
  const manifest = ManifestSchema.parse({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'worker',
    capabilities: { tools: { allow: overrides.tools ?? ['echo', 'count', 'llm'] } },
    quotas: { memory_mb: 16, ...(overrides.quotas ?? {}) },
  });
  return { did, name: 'worker', manifest, attributes: {}, code: null, ...overrides };
}

describe('gateway runtime', () => {
  let home: Awaited<ReturnType<typeof freshHome>>;
  let node: OacpNode;
  let tier: StandardTier;
  let store: Store;
  beforeEach(async () => {
    home = await freshHome();
    node = await OacpNode.open(home.home, home.env);
    store = await openStore(join(home.home, 'gateway.db'));
    tier ??= await StandardTier.create();
  });
  afterEach(async () => {
    await store.close();
    await node.close();
    home.remove();
  });

  function build(
    options: {
      policy?: string;
      quotas?: GatewayQuotaOptions;
      maxRestarts?: number;
      logger?: Logger;
      tier?: StandardTier;
    } = {},
  ) {
    const metrics = new GatewayMetrics('test');
    const registry = new ToolRegistry();
    let counter = 0;
    registry.register(
      defineTool({
        name: 'echo',
        input: z.strictObject({ text: z.string().max(100) }),
        attributes: { data: 'public' },
        run: ({ text }) => ({ echoed: text }),
      }),
    );
    registry.register(defineTool({ name: 'count', input: z.object({}), run: () => ({ n: ++counter }) }));
    registry.register(
      defineTool({
        name: 'llm',
        input: z.object({ tokens: z.number().int() }),
        run: async ({ tokens }, ctx) => {
          await ctx.chargeTokens(tokens);
          return { ok: true };
        },
      }),
    );
    const globalPolicy = new GatewayPolicy(loadGlobalPolicies(options.policy ?? DEFAULT_GLOBAL_POLICY));
    const quotas = new GatewayQuotas(options.quotas ?? {}, metrics, new StoreQuotaEngine(store));
    const receipts = new ReceiptRecorder(node, metrics);
    const tracing = Tracing.create();
    const signerOf = async () => signer;
    const tools = new ToolCaller({
      registry,
      toolPolicy: defaultPolicyEngine(),
      globalPolicy,
      quotas,
      receipts,
      metrics,
      tracing,
      signerOf,
      coSign: true,
    });
    const context = new MemoryContext();
    const runtime = new AgentRuntime({
      tier: options.tier ?? tier,
      tools,
      context,
      quotas,
      receipts,
      metrics,
      tracing,
      globalPolicy,
      signerOf,
      coSign: true,
      logger: options.logger ?? silentLogger(),
      restart: {
        initialDelayMs: 10,
        maxDelayMs: 40,
        maxRestarts: options.maxRestarts ?? 3,
        stableAfterMs: 60_000,
      },
    });
    return { tools, runtime, metrics, context, receipts };
  }

  const airlockKey = () => node.keys.airlockSigner().publicKey;

  it('calls a native tool and logs a receipt co-signed by the agent before answering', async () => {
    const { tools, metrics } = build();
    const outcome = await tools.call({
      tool: 'echo',
      arguments: { text: 'hi' },
      agent: program(),
      channel: 'signed-request',
    });
    expect(outcome.result).toEqual({ echoed: 'hi' });
    expect(node.log.size).toBe(1);
    const envelope = JSON.parse(Buffer.from(await node.log.entry(outcome.receipt.index)).toString('utf8'));
    const verdict = verifyReceiptEnvelope(envelope, { airlockKeys: [airlockKey()], expectedAgentDid: did });
    expect(verdict.ok).toBe(true);
    expect(verdict.trustLevel).toBe('Standard');
    expect(metrics.toolCalls.get({ tool: 'echo', agent: 'worker', status: 'ok' })).toBe(1);
    expect(metrics.attestations.get({ agent: 'worker' })).toBe(1);
  });

  it('signs API-key calls with the Airlock key only (Basic)', async () => {
    const { tools } = build();
    const outcome = await tools.call({
      tool: 'echo',
      arguments: { text: 'hi' },
      agent: program(),
      channel: 'api-key',
      apiKey: { id: 'k1' },
    });
    const envelope = JSON.parse(Buffer.from(await node.log.entry(outcome.receipt.index)).toString('utf8'));
    expect(verifyReceiptEnvelope(envelope, { airlockKeys: [airlockKey()] }).trustLevel).toBe('Basic');
  });

  it('refuses invalid arguments before anything runs, each refusal with its receipt', async () => {
    const { tools } = build();
    const call = tools.call({ tool: 'echo', arguments: { text: 42 }, agent: program(), channel: 'api-key' });
    await expect(call).rejects.toMatchObject({
      code: 'RUNTIME_TOOL_ARGUMENTS',
      message: expect.stringContaining('text'),
      details: { receipt: expect.objectContaining({ index: 0 }) },
    });
    await expect(
      tools.call({ tool: 'echo', arguments: { text: 'x', extra: 1 }, agent: program(), channel: 'api-key' }),
    ).rejects.toMatchObject({ code: 'RUNTIME_TOOL_ARGUMENTS', details: { receipt: expect.anything() } });
    expect(node.log.size).toBe(2);
  });

  it('attack: a call to a tool that does not exist is refused with one receipt naming it; nothing runs', async () => {
    const { tools } = build();
    const before = node.log.size;
    const error = await tools
      .call({ tool: 'nope', arguments: { x: 1 }, agent: program(), channel: 'api-key' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'RUNTIME_TOOL_UNKNOWN',
      message: expect.stringContaining('no tool named "nope"'),
      details: { receipt: expect.objectContaining({ index: before }) },
    });
    expect(node.log.size).toBe(before + 1);
    const envelope = JSON.parse(Buffer.from(await node.log.entry(before)).toString('utf8'));
    const { predicate } = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    expect(predicate).toMatchObject({
      tool: { name: 'nope' },
      server: { name: 'unknown' },
      policy: { effect: 'deny', reason: expect.stringContaining('no tool named "nope"') },
    });
  });

  it('denies a tool outside the manifest tools list, with a receipt of the refusal', async () => {
    const { tools, metrics } = build();
    const error = await tools
      .call({ tool: 'count', arguments: {}, agent: program({ tools: ['echo'] }), channel: 'api-key' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    const refusal = error as RuntimeError;
    expect(refusal.code).toBe('RUNTIME_TOOL_DENIED');
    expect(refusal.details.receipt?.index).toBe(0);
    const envelope = JSON.parse(Buffer.from(await node.log.entry(0)).toString('utf8'));
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    expect(statement.predicate.policy).toMatchObject({ effect: 'deny', policyId: 'oacp/tools' });
    expect(statement.predicate.resultDigest).toBeUndefined();
    expect(metrics.toolCalls.get({ tool: 'count', agent: 'worker', status: 'denied' })).toBe(1);
  });

  it('applies global Cedar policies by agent and tool attributes', async () => {
    const { tools } = build({
      policy: `@id("public-data") permit(principal, action == Action::"tools/call", resource)
        when { resource has data && resource.data == "public" };
      @id("cleared-only") permit(principal, action == Action::"tools/call", resource)
        when { principal has cleared && principal.cleared == true };`,
    });
    await expect(
      tools.call({ tool: 'echo', arguments: { text: 'a' }, agent: program(), channel: 'api-key' }),
    ).resolves.toBeDefined();
    const denied = await tools
      .call({ tool: 'count', arguments: {}, agent: program(), channel: 'api-key' })
      .catch((e: unknown) => e);
    expect(denied).toMatchObject({
      code: 'RUNTIME_POLICY_DENIED',
      message: expect.stringContaining('deny by default'),
    });
    await expect(
      tools.call({
        tool: 'count',
        arguments: {},
        agent: program({ attributes: { cleared: true } }),
        channel: 'api-key',
      }),
    ).resolves.toBeDefined();
  });

  it('answers 429-style refusals naming the quota: per tool, per API key, per agent, LLM tokens', async () => {
    const { tools } = build({
      quotas: { tools: { count: 2 }, apiKeyCallsPerMinute: 3, llmTokenBudget: 100 },
    });
    const agent = program();
    await tools.call({ tool: 'count', arguments: {}, agent, channel: 'api-key' });
    await tools.call({ tool: 'count', arguments: {}, agent, channel: 'api-key' });
    await expect(
      tools.call({ tool: 'count', arguments: {}, agent, channel: 'api-key' }),
    ).rejects.toMatchObject({
      code: 'RUNTIME_QUOTA_EXCEEDED',
      details: { quota: 'tool.count.calls_per_min' },
    });
    const key = { id: 'k9' };
    for (let i = 0; i < 3; i++)
      await tools.call({ tool: 'echo', arguments: { text: 'x' }, agent, channel: 'api-key', apiKey: key });
    await expect(
      tools.call({ tool: 'echo', arguments: { text: 'x' }, agent, channel: 'api-key', apiKey: key }),
    ).rejects.toMatchObject({ details: { quota: 'api_key.k9.calls_per_min' } });
    const tight = program({
      did: didKeyFromPublicKey(keySigner(generateEd25519().privateKey).publicKey),
      quotas: { api_calls_per_hour: 1, burst: 0 },
    });
    await tools.call({ tool: 'echo', arguments: { text: 'x' }, agent: tight, channel: 'api-key' });
    await expect(
      tools.call({ tool: 'echo', arguments: { text: 'x' }, agent: tight, channel: 'api-key' }),
    ).rejects.toMatchObject({
      details: { quota: 'agent.api_calls_per_hour' },
    });
    await tools.call({ tool: 'llm', arguments: { tokens: 60 }, agent, channel: 'api-key' });
    await expect(
      tools.call({ tool: 'llm', arguments: { tokens: 60 }, agent, channel: 'api-key' }),
    ).rejects.toMatchObject({
      code: 'RUNTIME_QUOTA_EXCEEDED',
      details: { quota: 'agent.llm_tokens' },
    });
  });

  it('runs agent code whose tool calls and context go through the gateway, with an execution receipt naming them', async () => {
    const { runtime, context } = build();
    const agent = program({
      code: `function main(input) {
        return oacp.tools.call('echo', { text: input.word }).then((r) =>
          oacp.context.put('last', r.echoed).then(() => oacp.context.get('last')));
      }`,
    });
    expect(await runtime.start(agent)).toBe('running');
    const result = await runtime.run(did, { input: { word: 'alpha' } });
    expect(result.value).toBe('alpha');
    expect(await context.get(did, 'last')).toBe('alpha');
    expect(result.toolCalls).toHaveLength(1);
    const envelope = JSON.parse(Buffer.from(await node.log.entry(result.receipt.index)).toString('utf8'));
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    expect(statement.predicateType).toBe('https://oacp.dev/attestation/execution/v1');
    expect(statement.predicate.toolCalls).toEqual(result.toolCalls);
    const toolEntry = await node.log.entry(result.toolCalls[0]?.logIndex ?? -1);
    const { sha256Hex } = await import('../../../src/core/digest.js');
    expect(sha256Hex(toolEntry)).toBe(result.toolCalls[0]?.envelopeDigest);
    await runtime.close();
  });

  it("attack: an agent's console.log carrying an 8-bit CSI, DEL and OSC reaches the gateway's JSON log escaped, and parses back whole", async () => {
    const lines: string[] = [];
    const { runtime } = build({ logger: new Logger((line) => lines.push(line), 'info') });
    // U+009B is a CSI on terminals that read C1 controls; JSON.stringify escapes only U+0000-U+001F.
    const text = '\u009b2J\u007f\u0085\u001b]52;c;cm0gLXJmIH4K\u0007 done';
    await runtime.start(
      program({ tools: [], code: `function main() { console.log(${JSON.stringify(text)}); return 1 }` }),
    );
    expect((await runtime.run(did, { input: null })).value).toBe(1);
    await runtime.close();
    const line = lines.find((candidate) => candidate.includes('"agent log"')) ?? '';
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding raw control characters is the point.
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(line).toContain('\\u009b2J\\u007f\\u0085\\u001b]52;c;');
    expect(JSON.parse(line)).toMatchObject({ msg: 'agent log', agent: 'worker', message: text });
  });

  it('gives the agent nothing but oacp, console and input', async () => {
    const { runtime } = build();
    await runtime.start(program({ tools: [] }));
    const result = await runtime.run(did, {
      code: `[typeof require, typeof process, typeof fetch, typeof oacp.tools, typeof oacp.context, typeof globalThis.WebAssembly]`,
    });
    expect(result.value).toEqual(['undefined', 'undefined', 'undefined', 'undefined', 'object', 'undefined']);
    await runtime.close();
  });

  it('restarts a crashing program with backoff and marks it failed when the watchdog gives up', async () => {
    const { runtime, context, metrics } = build({ maxRestarts: 2 });
    // Crashes on its first two starts (counted in its context), then comes up.
    const flaky = program({
      code: `oacp.context.get('starts').then((n) => oacp.context.put('starts', (n || 0) + 1).then(() => {
        if ((n || 0) < 2) throw new Error('not yet');
      }))`,
    });
    expect(await runtime.start(flaky)).toBe('restarting');
    await expect.poll(() => runtime.status(did).status, { timeout: 5000 }).toBe('running');
    expect(await context.get(did, 'starts')).toBe(3);
    expect(metrics.agentRestarts.get({ agent: 'worker' })).toBe(1);
    await runtime.stop(did);

    const broken = program({ code: `throw new Error('always')` });
    await runtime.start(broken);
    await expect.poll(() => runtime.status(did).status, { timeout: 5000 }).toBe('failed');
    expect(runtime.status(did).failure).toContain('always');
    await expect(runtime.run(did, {})).rejects.toMatchObject({ code: 'RUNTIME_AGENT_FAILED' });
    await runtime.close();
  });

  /** Migrated state as the runtime sees it, keeping what it was asked to do (agent-migration.ts records it). */
  function migratedState(restore: () => Promise<void> = async () => undefined) {
    const asked = { restored: 0, abandoned: [] as string[] };
    const state: MigratedState = {
      restore: async () => {
        asked.restored += 1;
        await restore();
      },
      abandon: async (reason) => {
        asked.abandoned.push(reason);
      },
    };
    return { asked, state };
  }

  it('attack: migrated state offered to a program that throws while loading, or that throws as it is put back, or to an agent already running: abandoned once with the reason, never restored on a restart', async () => {
    const { runtime } = build({ maxRestarts: 3 });
    // Throws on its first load only (counted in its context), then comes up on the watchdog's restart.
    const flaky = program({
      code: `oacp.context.get('loads').then((n) => oacp.context.put('loads', (n || 0) + 1).then(() => {
        if (!n) throw new Error('first load fails');
      }))`,
    });
    const loading = migratedState();
    await runtime.start(flaky, undefined, loading.state);
    await expect.poll(() => runtime.status(did).status, { timeout: 5000 }).toBe('running');
    expect(loading.asked.restored).toBe(0);
    expect(loading.asked.abandoned).toHaveLength(1);
    expect(loading.asked.abandoned[0]).toMatch(/did not start with it: .*first load fails/);

    // Already running: the state cannot go into it.
    const twice = migratedState();
    expect(await runtime.start(flaky, undefined, twice.state)).toBe('running');
    expect(twice.asked).toEqual({ restored: 0, abandoned: ['the agent was already running here'] });
    await runtime.stop(did);

    // The program refuses the state as it is put back: the restart runs the code alone.
    const refusing = migratedState(async () => {
      throw new Error('this program cannot take that state');
    });
    await runtime.start(program({ code: 'var count = 0;' }), undefined, refusing.state);
    await expect.poll(() => runtime.status(did).status, { timeout: 5000 }).toBe('running');
    expect(refusing.asked.restored).toBe(1);
    expect(refusing.asked.abandoned).toHaveLength(1);
    expect(refusing.asked.abandoned[0]).toMatch(/cannot take that state/);
    await runtime.close();
  });

  it("attack: the answer to a migration's compare-and-set is lost: the agent stops here when etcd records the hand-over, and keeps running when it does not", async () => {
    const { runtime, receipts } = build();
    const key = TransferKey.generate();
    const members: Member[] = [
      { id: 'a', url: 'http://127.0.0.1:1/', lease: '1', transferKey: key.did },
      { id: 'b', url: 'http://127.0.0.1:2/', lease: '2', transferKey: TransferKey.generate().did },
    ];
    const counter = program({ code: 'var count = 0; function main() { count += 1; return count; }' });
    let applied = false;
    let recorded: HandOver | undefined;
    const migrations = new AgentMigrations({
      nodeId: 'a',
      key,
      runtime,
      receipts,
      members: async () => members,
      owns: () => true,
      // etcd applies the move (or not), then the connection drops before its answer arrives.
      handOff: async (_agent, _to, handOver) => {
        if (applied) recorded = handOver;
        throw new Error('14 UNAVAILABLE: connection dropped');
      },
      handedOver: async () => recorded,
      program: async () => counter,
      send: async () => undefined,
    });
    await runtime.start(counter);
    await expect(migrations.migrate(did, 'b')).rejects.toThrow(/connection dropped/);
    expect(runtime.status(did).status).toBe('running');
    expect((await runtime.run(did, {})).value).toBe(1);

    applied = true;
    const moved = await migrations.migrate(did, 'b');
    expect(moved).toMatchObject({ source: 'a', target: 'b', stateDigest: recorded?.stateDigest });
    // Moved: it no longer runs here, so the copy restored on b is the only one.
    expect(runtime.status(did).status).toBe('stopped');
    await runtime.close();
  });

  it('attack: a run stuck in a native call past its wall limit is receipted with the CPU it used, not 0', {
    timeout: 60_000,
  }, async () => {
    // Its usage was read as the run failed, before the guest thread (terminated 500 ms later) let go of it.
    const short = await StandardTier.create({ threads: 1, sandbox: { wallTimeoutMs: 300 } });
    try {
      const { runtime } = build({ tier: short });
      await runtime.start(
        program({
          code: 'function main() { return 1; }',
          quotas: { memory_mb: 1024, cpu_ms_per_request: 120_000 },
        }),
      );
      const stuck = runtime.run(did, { code: 'new Array(4e6).fill(Math.PI).sort().length' });
      const error = await stuck.then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(RuntimeError);
      expect(error).toMatchObject({ code: 'RUNTIME_AGENT_RUN_FAILED' });
      const index = (error as RuntimeError).details.receipt?.index ?? -1;
      const envelope = JSON.parse(Buffer.from(await node.log.entry(index)).toString('utf8'));
      const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
      expect(statement.predicate.exit).toMatchObject({ killedBy: 'WASM_TIMEOUT' });
      // 300 ms to the wall limit and 500 ms of stop grace inside sort(): some CPU, however busy the host (it was 0).
      expect(statement.predicate.usage.cpuMs).toBeGreaterThan(20);
      await runtime.close();
    } finally {
      short.close();
    }
  });

  it('attack: a program that blows its memory limit while loading crashes once: one crash logged, one restart, one receipt per load', async () => {
    const lines: string[] = [];
    const { runtime, metrics } = build({
      maxRestarts: 3,
      logger: new Logger((line) => lines.push(line), 'info'),
    });
    const before = node.log.size;
    // Blows its memory limit (a fatal error: the sandbox is not trusted again) on its first load only.
    const blows = program({
      code: `oacp.context.get('loads').then((n) => oacp.context.put('loads', (n || 0) + 1).then(() => {
        if (!n) { const a = []; while (true) a.push('x'.repeat(1 << 16)); }
      }))`,
    });
    await runtime.start(blows);
    await expect.poll(() => runtime.status(did).status, { timeout: 10_000 }).toBe('running');
    const crashed = lines.filter((line) => line.includes('agent crashed'));
    expect(crashed).toHaveLength(1);
    expect(crashed[0]).toMatch(/start failed: .*memory/i);
    expect(metrics.agentRestarts.get({ agent: 'worker' })).toBe(1);
    // Two loads, each with its execution receipt; nothing else was written.
    expect(node.log.size - before).toBe(2);
    await runtime.close();
  });

  it('restarts an agent whose run blew its memory limit', async () => {
    const { runtime } = build();
    await runtime.start(program({ code: 'function main() { return 1; }' }));
    const blow = runtime.run(did, { code: `const a = []; while (true) a.push('x'.repeat(1 << 16));` });
    await expect(blow).rejects.toMatchObject({ code: 'RUNTIME_AGENT_RUN_FAILED' });
    await expect.poll(() => runtime.status(did).status, { timeout: 5000 }).toBe('running');
    expect((await runtime.run(did, {})).value).toBe(1);
    await runtime.close();
  });
});
