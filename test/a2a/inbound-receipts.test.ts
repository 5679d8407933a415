import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { type Message, Role, type SendMessageRequest } from '@a2a-js/sdk';
import { type A2ARequestHandler, ServerCallContext, UnauthenticatedUser } from '@a2a-js/sdk/server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { A2aAgent } from '../../src/a2a/agent.js';
import { A2A_MESSAGE_TOOL, type InboundChecks, messageArguments } from '../../src/a2a/inbound-calls.js';
import { InboundGate } from '../../src/a2a/inbound-gate.js';
import { signMessage } from '../../src/a2a/message-signature.js';
import { TrustGraph } from '../../src/a2a/trust-graph.js';
import { StoreQuotaEngine } from '../../src/airlock/quota/store-engine.js';
import { ManifestSchema } from '../../src/capability/manifest.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { jcsDigest } from '../../src/core/jcs.js';
import { GatewayMetrics } from '../../src/gateway/observability/gateway-metrics.js';
import { a2aInboundChecks } from '../../src/gateway/runtime/a2a-checks.js';
import { GatewayPolicy } from '../../src/gateway/runtime/policy/gateway-policy.js';
import { loadGlobalPolicies } from '../../src/gateway/runtime/policy/load.js';
import { DEFAULT_GLOBAL_POLICY } from '../../src/gateway/runtime/policy/schema.js';
import { GatewayQuotas } from '../../src/gateway/runtime/quotas.js';
import { ReceiptRecorder } from '../../src/gateway/runtime/receipt-recorder.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { InMemoryNonceStore } from '../../src/identity/nonce-store.js';
import { ReceiptSlot } from '../../src/mcp/receipt-slot.js';
import { OacpNode } from '../../src/node/oacp-node.js';
import { openStore } from '../../src/store/open-store.js';
import { freshHome } from '../gateway/service/node-home.js';

const agentSigner = keySigner(generateEd25519().privateKey);
const AGENT: A2aAgent = {
  did: didKeyFromPublicKey(agentSigner.publicKey),
  name: 'alice',
  description: 'test agent',
  skills: [],
  signer: agentSigner,
  tier: 'standard',
  manifestDigest: jcsDigest({ name: 'alice' }),
};
const trusted = keySigner(generateEd25519().privateKey);
const trustedDid = didKeyFromPublicKey(trusted.publicKey);

interface Predicate {
  agent: { did?: string; clientId?: string };
  tool: { name: string };
  argumentsDigest: string;
  policy: { effect: string; reason: string; policyId?: string };
}

/**
 * An inbound A2A message is decided by decideCall, the tool-call pipeline:
 * each refusal class is one receipt in the node's log (tool-call predicate,
 * tool `a2a:message/send`) naming the reason, and the agent never runs.
 */
describe('A2A: every refused message is one receipt naming the reason', () => {
  let home: Awaited<ReturnType<typeof freshHome>>;
  let node: OacpNode;
  beforeEach(async () => {
    home = await freshHome('oacp-a2a-receipts-');
    node = await OacpNode.open(home.home, home.env);
  });
  afterEach(async () => {
    await node.close();
    home.remove();
  });

  function gate(slot?: ReceiptSlot, checks?: InboundChecks) {
    const delivered: Message[] = [];
    const receipts = new ReceiptRecorder(node, new GatewayMetrics('test'), slot);
    const inner = {
      sendMessage: async (params: SendMessageRequest) => {
        if (params.message !== undefined) delivered.push(params.message);
        return params.message as Message;
      },
      getTask: async () => {
        throw new Error('no tasks here');
      },
    } as unknown as A2ARequestHandler;
    const inbound = new InboundGate(inner, {
      agent: AGENT,
      trust: new TrustGraph([{ from: trustedDid, to: 'alice' }]),
      nonces: new InMemoryNonceStore(),
      signedMessagesRequired: true,
      localNameOf: async () => undefined,
      receipts: {
        reserve: () => receipts.reserve(),
        record: (record) => receipts.toolCall(record, record.agent),
      },
      ...(checks === undefined ? {} : { checks }),
    });
    return { inbound, delivered };
  }

  const context = () =>
    new ServerCallContext({ user: new UnauthenticatedUser(), state: new Map<string, unknown>() });

  function message(data: unknown, signer = trusted): SendMessageRequest {
    const unsigned: Message = {
      messageId: randomUUID(),
      contextId: '',
      taskId: '',
      role: Role.ROLE_USER,
      parts: [
        { content: { $case: 'text', value: 'hello' }, metadata: undefined, filename: '', mediaType: '' },
        { content: { $case: 'data', value: data }, metadata: undefined, filename: '', mediaType: '' },
      ],
      metadata: undefined,
      extensions: [],
      referenceTaskIds: [],
    };
    return {
      tenant: '',
      message: signMessage(unsigned, signer, { to: AGENT.did }),
      configuration: undefined,
      metadata: undefined,
    };
  }

  async function refused(send: Promise<unknown>, code: number): Promise<Predicate> {
    const error = await send.then(
      () => {
        throw new Error('the message was not refused');
      },
      (e: unknown) => e as { message: string; errorResponse?: { error?: { code?: number } } },
    );
    expect(JSON.stringify(error)).toContain(String(code));
    const index = Number(/receipt #(\d+)/.exec(error.message)?.[1] ?? Number.NaN);
    expect(Number.isInteger(index), `no receipt named in: ${error.message}`).toBe(true);
    const envelope = JSON.parse(Buffer.from(await node.log.entry(index)).toString('utf8')) as {
      payload: string;
    };
    const { predicate } = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as {
      predicate: Predicate;
    };
    expect(predicate.tool.name).toBe(A2A_MESSAGE_TOOL);
    expect(predicate.policy.effect).toBe('deny');
    return predicate;
  }

  it('attack: a data part nested 1,000 deep is refused on its limits, recorded with what was sent', async () => {
    const { inbound, delivered } = gate();
    let deep: unknown = 'x';
    for (let i = 0; i < 1000; i++) deep = [deep];
    const request = message({ deep });
    const predicate = await refused(inbound.sendMessage(request, context()), -32046);
    expect(predicate.policy.reason).toContain('deeper than 128');
    expect(predicate.policy.policyId).toBe('oacp/shape');
    expect(predicate.argumentsDigest).toBe(jcsDigest(messageArguments(request.message as Message)));
    expect(node.log.size).toBe(1);
    expect(delivered).toEqual([]);
  });

  it('attack: a replayed signed message is refused the second time, with one receipt naming the replay', async () => {
    const { inbound, delivered } = gate();
    const once = message({ n: 1 });
    await inbound.sendMessage(once, context());
    expect(delivered).toHaveLength(1);
    const predicate = await refused(inbound.sendMessage(once, context()), -32042);
    expect(predicate.policy.reason).toContain('already delivered');
    expect(predicate.agent.did).toBe(trustedDid);
    expect(node.log.size).toBe(1);
    expect(delivered).toHaveLength(1);
  });

  it('attack: a message changed after signing is refused; its receipt does not name the claimed signer', async () => {
    const { inbound, delivered } = gate();
    const signed = message({ pay: 1 });
    const tampered = {
      ...signed,
      message: { ...(signed.message as Message), parts: message({ pay: 1000 }).message?.parts ?? [] },
    };
    const predicate = await refused(inbound.sendMessage(tampered, context()), -32041);
    expect(predicate.policy.reason).toContain('does not verify');
    expect(predicate.agent).toEqual({ clientId: 'unverified' });
    expect(delivered).toEqual([]);
  });

  it('attack: a sender the trust graph has no edge for is refused and recorded', async () => {
    const { inbound, delivered } = gate();
    const stranger = keySigner(generateEd25519().privateKey);
    const predicate = await refused(inbound.sendMessage(message({}, stranger), context()), -32043);
    expect(predicate.policy.reason).toContain('no trust edge');
    expect(node.log.size).toBe(1);
    expect(delivered).toEqual([]);
  });

  it('attack: while the log cannot take a receipt no message is delivered; the refusal is recorded once it can', async () => {
    const slot = new ReceiptSlot({ dir: home.home, minFreeBytes: Number.MAX_SAFE_INTEGER });
    const { inbound, delivered } = gate(slot);
    const predicate = await refused(inbound.sendMessage(message({}), context()), -32047);
    expect(predicate.policy.policyId).toBe('oacp/log');
    expect(predicate.policy.reason).toContain('no receipt can be written');
    expect(delivered).toEqual([]);
  });

  async function gatewayChecks(policy: string, quotas: Record<string, number> = {}) {
    const store = await openStore(join(home.home, 'gateway.db'));
    const manifest = ManifestSchema.parse({
      apiVersion: 'oacp.dev/v1',
      kind: 'CapabilityManifest',
      name: 'alice',
      capabilities: {},
      quotas: { memory_mb: 16, ...quotas },
    });
    const checks = a2aInboundChecks({
      globalPolicy: new GatewayPolicy(loadGlobalPolicies(policy)),
      quotas: new GatewayQuotas({}, new GatewayMetrics('test'), new StoreQuotaEngine(store)),
      agents: {
        get: async (ref) =>
          ref === AGENT.did
            ? { id: AGENT.did, name: 'alice', manifest, state: 'running', code: null, attributes: {} }
            : undefined,
      } as Parameters<typeof a2aInboundChecks>[0]['agents'],
    });
    return { checks, close: () => store.close() };
  }

  it('attack: a message a global policy forbids is refused, the receipt naming that policy', async () => {
    const { checks, close } = await gatewayChecks(
      `${DEFAULT_GLOBAL_POLICY}\n@id("no-inbound-a2a")\nforbid (principal, action == Action::"a2a/message", resource);\n`,
    );
    try {
      const { inbound, delivered } = gate(undefined, checks);
      const predicate = await refused(inbound.sendMessage(message({}), context()), -32048);
      expect(predicate.policy.reason).toContain('global policy');
      expect(JSON.stringify(predicate.policy)).toContain('no-inbound-a2a');
      expect(delivered).toEqual([]);
    } finally {
      await close();
    }
  });

  it("attack: a message past the receiving agent's quota is refused and recorded naming the quota", async () => {
    const { checks, close } = await gatewayChecks(DEFAULT_GLOBAL_POLICY, { api_calls_per_hour: 1, burst: 0 });
    try {
      const { inbound, delivered } = gate(undefined, checks);
      await inbound.sendMessage(message({ n: 1 }), context());
      expect(delivered).toHaveLength(1);
      const predicate = await refused(inbound.sendMessage(message({ n: 2 }), context()), -32049);
      expect(predicate.policy.policyId).toBe('oacp/quota');
      expect(predicate.policy.reason).toContain('api_calls_per_hour');
      expect(node.log.size).toBe(1);
      expect(delivered).toHaveLength(1);
    } finally {
      await close();
    }
  });
});
