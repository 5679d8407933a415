import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { StoreQuotaEngine } from '../../../src/airlock/quota/store-engine.js';
import { ManifestSchema } from '../../../src/capability/manifest.js';
import { generateEd25519, keySigner } from '../../../src/core/ed25519.js';
import { jcsDigest } from '../../../src/core/jcs.js';
import { GatewayMetrics } from '../../../src/gateway/observability/gateway-metrics.js';
import { Tracing } from '../../../src/gateway/observability/tracing.js';
import type { AgentProgram } from '../../../src/gateway/runtime/agent-runtime.js';
import { defineTool } from '../../../src/gateway/runtime/define-tool.js';
import { RuntimeError } from '../../../src/gateway/runtime/errors.js';
import { GatewayPolicy } from '../../../src/gateway/runtime/policy/gateway-policy.js';
import { loadGlobalPolicies } from '../../../src/gateway/runtime/policy/load.js';
import { DEFAULT_GLOBAL_POLICY } from '../../../src/gateway/runtime/policy/schema.js';
import { GatewayQuotas } from '../../../src/gateway/runtime/quotas.js';
import { ReceiptRecorder } from '../../../src/gateway/runtime/receipt-recorder.js';
import { ToolCaller } from '../../../src/gateway/runtime/tool-caller.js';
import { ToolRegistry } from '../../../src/gateway/runtime/tool-registry.js';
import { didKeyFromPublicKey } from '../../../src/identity/did-key.js';
import { defaultPolicyEngine } from '../../../src/mcp/default-policy.js';
import { ReceiptSlot } from '../../../src/mcp/receipt-slot.js';
import { OacpNode } from '../../../src/node/oacp-node.js';
import { openStore } from '../../../src/store/open-store.js';
import type { Store } from '../../../src/store/types.js';
import { freshHome } from './node-home.js';

const signer = keySigner(generateEd25519().privateKey);
const did = didKeyFromPublicKey(signer.publicKey);

const NO_WRITES = `@id("oacp-gateway-default-allow")
permit(principal, action, resource);

@id("no-writes")
forbid (principal, action == Action::"tools/call", resource)
when { resource has access && resource.access == "write" };
`;

function program(quotas: Record<string, number> = {}): AgentProgram {
  const manifest = ManifestSchema.parse({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'worker',
    capabilities: { tools: { allow: ['write_note'] } },
    quotas: { memory_mb: 16, ...quotas },
  });
  return { did, name: 'worker', manifest, attributes: {}, code: null };
}

interface Predicate {
  tool: { name: string };
  argumentsDigest: string;
  policy: { effect: string; reason: string; policyId?: string; policyIds?: string[]; policyDigest: string };
}

/**
 * A native gateway tool goes through decideCall, the same ordered checks as
 * a bridged call: every refusal class is one receipt in the log naming why,
 * and the tool never runs.
 */
describe('a native gateway tool: every refusal is one receipt naming its reason', () => {
  let home: Awaited<ReturnType<typeof freshHome>>;
  let node: OacpNode;
  let store: Store;
  beforeEach(async () => {
    home = await freshHome();
    node = await OacpNode.open(home.home, home.env);
    store = await openStore(join(home.home, 'gateway.db'));
  });
  afterEach(async () => {
    await store.close();
    await node.close();
    home.remove();
  });

  function build(options: { policy?: string; slot?: ReceiptSlot } = {}) {
    const metrics = new GatewayMetrics('test');
    const registry = new ToolRegistry();
    const ran: unknown[] = [];
    registry.register(
      defineTool({
        name: 'write_note',
        input: z.object({ text: z.unknown() }).passthrough(),
        attributes: { access: 'write' },
        run: (args) => {
          ran.push(args);
          return { written: true };
        },
      }),
    );
    const tools = new ToolCaller({
      registry,
      toolPolicy: defaultPolicyEngine(),
      globalPolicy: new GatewayPolicy(loadGlobalPolicies(options.policy ?? DEFAULT_GLOBAL_POLICY)),
      quotas: new GatewayQuotas({}, metrics, new StoreQuotaEngine(store)),
      receipts: new ReceiptRecorder(node, metrics, options.slot),
      metrics,
      tracing: Tracing.create(),
      signerOf: async () => signer,
      coSign: true,
    });
    return { tools, ran };
  }

  async function refusal(call: Promise<unknown>): Promise<{ error: RuntimeError; predicate: Predicate }> {
    const error = await call.then(
      () => {
        throw new Error('the call was not refused');
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RuntimeError);
    const refused = error as RuntimeError;
    const receipt = refused.details.receipt;
    if (receipt === undefined) throw new Error(`refusal ${refused.code} carries no receipt`);
    expect(node.log.size).toBe(1);
    const envelope = JSON.parse(Buffer.from(await node.log.entry(receipt.index)).toString('utf8')) as {
      payload: string;
    };
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as {
      predicate: Predicate;
    };
    expect(statement.predicate.policy.effect).toBe('deny');
    return { error: refused, predicate: statement.predicate };
  }

  const call = (tools: ToolCaller, args: unknown, agent = program()) =>
    tools.call({ tool: 'write_note', arguments: args, agent, channel: 'signed-request' });

  it('attack: arguments nested 1,000 deep are refused on their shape, recorded, never run', async () => {
    const { tools, ran } = build();
    let deep: unknown = 'x';
    for (let i = 0; i < 1000; i++) deep = { a: deep };
    const { error, predicate } = await refusal(call(tools, { text: deep }));
    expect(error.code).toBe('RUNTIME_TOOL_ARGUMENTS');
    expect(predicate.policy.reason).toContain('deeper than 128');
    expect(predicate.policy.policyId).toBe('oacp/shape');
    expect(predicate.argumentsDigest).toBe(jcsDigest({ text: deep }));
    expect(ran).toEqual([]);
  });

  it('attack: a lone surrogate in a native tool’s arguments is denied by the tool-call policy, the reason naming its path, not Cedar’s parse error', async () => {
    const { tools, ran } = build();
    const args = JSON.parse('{"text":{"lines":["fine","half \\udbff"]}}') as Record<string, unknown>;
    const { error, predicate } = await refusal(call(tools, args));
    expect(error.code).toBe('RUNTIME_POLICY_DENIED');
    expect(predicate.policy.reason).toContain('arguments.text.lines[1] holds a lone UTF-16 surrogate');
    expect(predicate.policy.reason).not.toContain('hex escape');
    expect(predicate.argumentsDigest).toBe(jcsDigest(args));
    expect(ran).toEqual([]);
  });

  it('attack: array arguments are refused as they are, and the receipt digests the array sent', async () => {
    const { tools, ran } = build();
    const args = [{ text: 'x' }];
    const { error, predicate } = await refusal(call(tools, args));
    expect(error.code).toBe('RUNTIME_TOOL_ARGUMENTS');
    expect(predicate.policy.reason).toContain('must be an object');
    expect(predicate.argumentsDigest).toBe(jcsDigest(args));
    expect(ran).toEqual([]);
  });

  it('attack: a call a global policy forbids is refused, the receipt naming that policy and the joint digest', async () => {
    const { tools, ran } = build({ policy: NO_WRITES });
    const { error, predicate } = await refusal(call(tools, { text: 'x' }));
    expect(error.code).toBe('RUNTIME_POLICY_DENIED');
    expect(predicate.policy.reason).toContain('global policy');
    expect(predicate.policy.policyIds ?? [predicate.policy.policyId]).toContain('no-writes');
    // The digest covers the tool-call policy and the global policies together, not either alone.
    expect(predicate.policy.policyDigest).not.toBe(defaultPolicyEngine().policies.digest);
    expect(ran).toEqual([]);
  });

  it('attack: a call past its quota is refused, recorded naming the quota', async () => {
    const { tools, ran } = build();
    const agent = program({ api_calls_per_hour: 1, burst: 0 });
    await call(tools, { text: 'first' }, agent);
    expect(ran).toHaveLength(1);
    const error = await call(tools, { text: 'second' }, agent).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'RUNTIME_QUOTA_EXCEEDED' });
    const receipt = (error as RuntimeError).details.receipt;
    expect(receipt).toBeDefined();
    expect(node.log.size).toBe(2);
    const envelope = JSON.parse(Buffer.from(await node.log.entry(receipt?.index ?? -1)).toString('utf8')) as {
      payload: string;
    };
    const predicate = (
      JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as { predicate: Predicate }
    ).predicate;
    expect(predicate.policy).toMatchObject({ effect: 'deny', policyId: 'oacp/quota' });
    expect(predicate.policy.reason).toContain('api_calls_per_hour');
    expect(ran).toHaveLength(1);
  });

  it('attack: while the log cannot take a receipt nothing runs; the refusal is 503 and recorded once it can', async () => {
    // A filesystem "with less free space than a receipt needs": the slot refuses, the append itself works.
    const slot = new ReceiptSlot({ dir: home.home, minFreeBytes: Number.MAX_SAFE_INTEGER });
    const { tools, ran } = build({ slot });
    const { error, predicate } = await refusal(call(tools, { text: 'x' }));
    expect(error.code).toBe('RUNTIME_RECEIPT_UNAVAILABLE');
    expect(predicate.policy.policyId).toBe('oacp/log');
    expect(predicate.policy.reason).toContain('no receipt can be written');
    expect(ran).toEqual([]);
  });
});
