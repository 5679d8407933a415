import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { StoreQuotaEngine } from '../../../src/airlock/quota/store-engine.js';
import { ManifestSchema } from '../../../src/capability/manifest.js';
import { generateEd25519, keySigner } from '../../../src/core/ed25519.js';
import { jcsDigest } from '../../../src/core/jcs.js';
import { GatewayMetrics } from '../../../src/gateway/observability/gateway-metrics.js';
import { Tracing } from '../../../src/gateway/observability/tracing.js';
import { defineTool } from '../../../src/gateway/runtime/define-tool.js';
import { GatewayPolicy } from '../../../src/gateway/runtime/policy/gateway-policy.js';
import { loadGlobalPolicies } from '../../../src/gateway/runtime/policy/load.js';
import { DEFAULT_GLOBAL_POLICY } from '../../../src/gateway/runtime/policy/schema.js';
import { GatewayQuotas } from '../../../src/gateway/runtime/quotas.js';
import { ReceiptRecorder } from '../../../src/gateway/runtime/receipt-recorder.js';
import { ToolCaller } from '../../../src/gateway/runtime/tool-caller.js';
import { ToolRegistry } from '../../../src/gateway/runtime/tool-registry.js';
import { didKeyFromPublicKey } from '../../../src/identity/did-key.js';
import { defaultPolicyEngine } from '../../../src/mcp/default-policy.js';
import { OacpNode } from '../../../src/node/oacp-node.js';
import { openStore } from '../../../src/store/open-store.js';
import type { Store } from '../../../src/store/types.js';
import { freshHome } from './node-home.js';

const signer = keySigner(generateEd25519().privateKey);
const did = didKeyFromPublicKey(signer.publicKey);

/** What an agent may pass as arguments: objects, nothing, arrays, scalars, and objects nested too deep. */
const argumentsArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 4 }),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.oneof(fc.string(), fc.integer(), fc.constant(null)) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 100, max: 300 }).map((depth) => ({
      nested: JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`) as unknown,
    })),
  },
);

const callArb = fc.record({
  // `nosuch` and `ghost__tool` name no registered tool: refused, and recorded all the same.
  tool: fc.constantFrom('open', 'strict', 'forbidden', 'nosuch', 'ghost__tool'),
  args: argumentsArb,
});

/**
 * The gateway's native tools meet the same property as the bridge
 * (test/mcp/pipeline-property.test.ts): every call, refused or run, is exactly
 * one receipt whose argumentsDigest is the digest of the arguments as given,
 * and a tool runs exactly when its receipt says allow, on those arguments.
 */
describe('property: every native (or unknown) tool call has exactly one receipt digesting the arguments as given', () => {
  let home: Awaited<ReturnType<typeof freshHome>>;
  let node: OacpNode;
  let store: Store;
  beforeAll(async () => {
    home = await freshHome();
    node = await OacpNode.open(home.home, home.env);
    store = await openStore(join(home.home, 'gateway.db'));
  });
  afterAll(async () => {
    await store.close();
    await node.close();
    home.remove();
  });

  it('holds for random arguments and tools', async () => {
    const metrics = new GatewayMetrics('test');
    const registry = new ToolRegistry();
    const ran: string[] = [];
    const record = (args: unknown) => {
      ran.push(jcsDigest(args));
      return { ok: true };
    };
    registry.register(defineTool({ name: 'open', input: z.record(z.string(), z.unknown()), run: record }));
    registry.register(
      defineTool({ name: 'strict', input: z.strictObject({ text: z.string() }), run: record }),
    );
    registry.register(
      defineTool({
        name: 'forbidden',
        input: z.record(z.string(), z.unknown()),
        attributes: { access: 'write' },
        run: record,
      }),
    );
    const tools = new ToolCaller({
      registry,
      toolPolicy: defaultPolicyEngine(),
      globalPolicy: new GatewayPolicy(
        loadGlobalPolicies(
          `${DEFAULT_GLOBAL_POLICY}\n@id("no-writes")\nforbid (principal, action == Action::"tools/call", resource) when { resource has access && resource.access == "write" };\n`,
        ),
      ),
      quotas: new GatewayQuotas({}, metrics, new StoreQuotaEngine(store)),
      receipts: new ReceiptRecorder(node, metrics),
      metrics,
      tracing: Tracing.create(),
      signerOf: async () => signer,
      coSign: true,
    });
    const agent = {
      did,
      name: 'worker',
      attributes: {},
      code: null,
      manifest: ManifestSchema.parse({
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name: 'worker',
        capabilities: { tools: { allow: ['open', 'strict', 'forbidden'] } },
        quotas: { memory_mb: 16, api_calls_per_hour: 100_000 },
      }),
    };
    let calls = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(callArb, { minLength: 1, maxLength: 6 }), async (batch) => {
        for (const { tool, args } of batch) {
          const before = node.log.size;
          const ranBefore = ran.length;
          const outcome = await tools.call({ tool, arguments: args, agent, channel: 'signed-request' }).then(
            (ok) => ok.receipt,
            (error: { details?: { receipt?: { index: number } } }) => error.details?.receipt,
          );
          calls += 1;
          expect(outcome, `${tool} ${JSON.stringify(args)?.slice(0, 80)}: no receipt`).toBeDefined();
          expect(node.log.size).toBe(before + 1);
          const envelope = JSON.parse(
            Buffer.from(await node.log.entry(outcome?.index ?? -1)).toString('utf8'),
          ) as {
            payload: string;
          };
          const { predicate } = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as {
            predicate: { argumentsDigest: string; policy: { effect: string } };
          };
          expect(predicate.argumentsDigest).toBe(jcsDigest(args ?? {}));
          const allowed = predicate.policy.effect === 'allow';
          expect(ran.length).toBe(ranBefore + (allowed ? 1 : 0));
          if (allowed) expect(ran.at(-1)).toBe(jcsDigest(args ?? {}));
          if (tool === 'forbidden' || tool === 'nosuch' || tool === 'ghost__tool')
            expect(allowed).toBe(false);
        }
      }),
      { numRuns: 40 },
    );
    expect(calls).toBeGreaterThan(40);
  });
});
