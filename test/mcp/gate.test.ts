import { join } from 'node:path';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { StoreQuotaEngine } from '../../src/airlock/quota/store-engine.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { signRequest } from '../../src/identity/signed-request.js';
import { type ApprovalDesk, ApprovalService } from '../../src/mcp/approval.js';
import { HttpApprovalDesk, newDeskToken } from '../../src/mcp/approval-desk.js';
import { createBridge } from '../../src/mcp/bridge.js';
import { CallRateQuota } from '../../src/mcp/call-quota.js';
import { serveHttp } from '../../src/mcp/http.js';
import { AGENT_REQUEST_META, toolCallPayload, toolCallPurpose } from '../../src/mcp/principal.js';
import { toolFilterFromFlag } from '../../src/mcp/tool-filter.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { MemoryEventSink } from '../../src/policy/events.js';
import { loadPolicies } from '../../src/policy/load.js';
import { ToolPins } from '../../src/policy/pins.js';
import { openSqliteStore } from '../../src/store/sqlite-store.js';
import { scratchDir } from '../scratch-dirs.js';
import { inProcess, lightUpstream, receiptIndex, testClient, testReceipts, text } from './helpers.js';

const QUIRKY = join(import.meta.dirname, 'fixtures', 'quirky-server.mjs');
const quirky = (variant = 'a') => lightUpstream('quirky', [QUIRKY], { env: { QUIRKY_VARIANT: variant } });

describe('tool pinning', () => {
  it('hides and blocks a tool whose definition changed since it was pinned, and says so once', async () => {
    const path = join(scratchDir('oacp-pins-'), 'pins.json');
    const first = await inProcess(quirky('a'), { pins: new ToolPins({ path }) });
    expect((await first.client.listTools()).tools.map((t) => t.name)).toContain('shifty');
    expect(text(await first.client.callTool({ name: 'shifty', arguments: {} }))).toContain('variant a');
    await first.close();

    const events = new MemoryEventSink();
    const second = await inProcess(quirky('b'), { pins: new ToolPins({ path, events }) });
    try {
      const names = (await second.client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('echo');
      expect(names).not.toContain('shifty');
      const result = await second.client.callTool({ name: 'shifty', arguments: {} });
      expect(result.isError).toBe(true);
      expect(text(result)).toMatch(/changed its definition since it was pinned/);
      expect(text(result)).not.toContain('variant b');
      expect(events.events).toEqual([
        expect.objectContaining({ type: 'tool-definition-changed', server: 'quirky', tool: 'shifty' }),
      ]);
      const verified = await second.receipts.verify(receiptIndex(result));
      expect(verified.predicate).toMatchObject({ policy: { effect: 'deny', policyId: 'oacp/pin' } });
      // Unchanged tools keep working.
      expect(text(await second.client.callTool({ name: 'echo', arguments: { text: 'fine' } }))).toContain(
        'fine',
      );
    } finally {
      await second.close();
    }
  });

  it('records the pinned definition digest in each receipt', async () => {
    const pins = new ToolPins();
    const harness = await inProcess(quirky(), { pins });
    try {
      await harness.client.listTools();
      const result = await harness.client.callTool({ name: 'echo', arguments: { text: 'x' } });
      const verified = await harness.receipts.verify(receiptIndex(result));
      expect(verified.predicate).toMatchObject({
        tool: { name: 'echo', definitionDigest: pins.pinned('quirky', 'echo') },
      });
    } finally {
      await harness.close();
    }
  });
});

describe('tools list, quota', () => {
  it('lists and allows only the tools the list names', async () => {
    const harness = await inProcess(quirky(), { tools: toolFilterFromFlag(['echo,sl*', '!slow']) });
    try {
      expect((await harness.client.listTools()).tools.map((t) => t.name)).toEqual(['echo']);
      const result = await harness.client.callTool({ name: 'pid', arguments: {} });
      expect(result.isError).toBe(true);
      expect(text(result)).toContain('not in tools.allow');
      const denied = await harness.client.callTool({ name: 'slow', arguments: { ms: 1 } });
      expect(text(denied)).toContain('denied by tools.deny entry "slow"');
      expect((await harness.receipts.verify(receiptIndex(denied))).predicate).toMatchObject({
        policy: { policyId: 'oacp/tools' },
      });
    } finally {
      await harness.close();
    }
  });

  it('refuses calls over the per-minute quota, and refused calls do not use it up', async () => {
    const policy = new PolicyEngine(loadPolicies('permit(principal, action, resource == Tool::"echo");'));
    const store = await openSqliteStore(':memory:');
    const harness = await inProcess(quirky(), {
      quota: new CallRateQuota(2, new StoreQuotaEngine(store), 'quirky'),
      policy,
    });
    try {
      const call = (name: string) => harness.client.callTool({ name, arguments: { text: 'q' } });
      expect((await call('pid')).isError).toBe(true);
      expect((await call('echo')).isError ?? false).toBe(false);
      expect((await call('echo')).isError ?? false).toBe(false);
      const over = await call('echo');
      expect(over.isError).toBe(true);
      expect(text(over)).toMatch(/call quota exceeded: 2 calls per minute/);
      expect((await harness.receipts.verify(receiptIndex(over))).predicate).toMatchObject({
        policy: { policyId: 'oacp/quota' },
      });
    } finally {
      await harness.close();
      await store.close();
    }
  });
});

describe('approval', () => {
  /** The operator's desk (a terminal, say): answers as told, and counts what it was asked. */
  const deskSaying = (answer: 'yes' | 'no' | 'never') => {
    const asked: string[] = [];
    const desk: ApprovalDesk = {
      method: 'terminal',
      decide: async (request) => {
        asked.push(`${request.tool} ${JSON.stringify(request.arguments)}`);
        if (answer === 'never') return new Promise(() => undefined);
        return { approved: answer === 'yes', by: 'terminal:operator' };
      },
    };
    return { desk, asked };
  };

  it('attack: a client that declared elicitation answers its own approval request; it is never asked, and the call is refused', async () => {
    const client = testClient({ elicitation: {} });
    let elicited = 0;
    client.setRequestHandler(ElicitRequestSchema, async () => {
      elicited++;
      return { action: 'accept', content: { approve: true } };
    });
    const approval = { tools: ['echo'], approver: new ApprovalService({ timeoutMs: 5000 }) };
    const harness = await inProcess(quirky(), { approval }, client);
    try {
      const result = await harness.client.callTool({ name: 'echo', arguments: { text: 'self-approved?' } });
      expect(result.isError).toBe(true);
      expect(text(result)).toContain('cannot approve its own call');
      expect(elicited).toBe(0);
      expect((await harness.receipts.verify(receiptIndex(result))).predicate).toMatchObject({
        policy: { effect: 'deny', policyId: 'oacp/approval' },
      });
    } finally {
      await harness.close();
    }
  });

  it("asks the operator's desk and records who approved", async () => {
    const { desk, asked } = deskSaying('yes');
    const approval = { tools: ['echo'], approver: new ApprovalService({ desk }) };
    const harness = await inProcess(quirky(), { approval });
    try {
      const result = await harness.client.callTool({ name: 'echo', arguments: { text: 'approved' } });
      expect(text(result)).toContain('approved');
      expect(asked).toEqual(['echo {"text":"approved"}']);
      // Tools not on the list need no approval.
      await harness.client.callTool({ name: 'pid', arguments: {} });
      expect(asked).toHaveLength(1);
      const verified = await harness.receipts.verify(receiptIndex(result));
      expect(verified.predicate).toMatchObject({
        approval: { approvedBy: 'terminal:operator', method: 'terminal' },
      });
    } finally {
      await harness.close();
    }
  });

  it('denies when the operator declines', async () => {
    const { desk } = deskSaying('no');
    const approval = { tools: ['echo'], approver: new ApprovalService({ desk }) };
    const harness = await inProcess(quirky(), { approval });
    try {
      const result = await harness.client.callTool({ name: 'echo', arguments: { text: 'x' } });
      expect(result.isError).toBe(true);
      expect(text(result)).toContain("declined at the operator's terminal");
      expect((await harness.receipts.verify(receiptIndex(result))).predicate).toMatchObject({
        policy: { effect: 'deny', policyId: 'oacp/approval' },
      });
    } finally {
      await harness.close();
    }
  });

  it('denies when nobody answers in time', async () => {
    const { desk } = deskSaying('never');
    const approval = { tools: ['echo'], approver: new ApprovalService({ desk, timeoutMs: 200 }) };
    const harness = await inProcess(quirky(), { approval });
    try {
      const result = await harness.client.callTool({ name: 'echo', arguments: { text: 'x' } });
      expect(text(result)).toContain('no approval within 0.2 s');
    } finally {
      await harness.close();
    }
  });

  it('denies when there is no way to ask', async () => {
    const approval = { tools: ['echo'], approver: new ApprovalService() };
    const harness = await inProcess(quirky(), { approval });
    try {
      const result = await harness.client.callTool({ name: 'echo', arguments: { text: 'x' } });
      expect(text(result)).toContain(
        'there is neither an approval endpoint (--http) nor an operator terminal',
      );
    } finally {
      await harness.close();
    }
  });

  it("waits at the HTTP approval endpoint, which answers the operator's token only, never the client that asked", async () => {
    const token = newDeskToken();
    const desk = new HttpApprovalDesk(token, 'in /home/op/.oacp/approval-desks/1.token (0600)');
    const operator = { authorization: `Bearer ${token}` };
    const receipts = await testReceipts();
    const bridge = createBridge({
      upstream: quirky(),
      receipts,
      approval: { tools: ['echo'], approver: new ApprovalService({ desk }) },
    });
    const http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, clientAuth: 'none', approvals: desk });
    const client = testClient();
    try {
      await client.connect(new StreamableHTTPClientTransport(http.url));
      const call = client.callTool({ name: 'echo', arguments: { text: 'via desk' } });
      const base = new URL('/oacp/approvals', http.url);
      let id: string | undefined;
      for (let i = 0; i < 200 && id === undefined; i++) {
        const listed = (await (await fetch(base, { headers: operator })).json()) as {
          pending: { id: string; request: { tool: string } }[];
        };
        id = listed.pending.find((p) => p.request.tool === 'echo')?.id;
        if (id === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(id).toBeDefined();
      // Attack: the client that asked (it reaches the same listener) lists and approves its own call.
      const approve = JSON.stringify({ approve: true, by: 'agent' });
      for (const headers of [
        {},
        { authorization: 'Bearer wrong-token-of-the-same-length-0123456789abc' },
        { authorization: `Bearer ${token}x` },
        { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` },
        { authorization: token },
      ]) {
        const listing = await fetch(base, { headers });
        expect(listing.status).toBe(401);
        expect(await listing.text()).not.toContain('pending');
        const self = await fetch(new URL(`/oacp/approvals/${id}`, http.url), {
          method: 'POST',
          headers,
          body: approve,
        });
        expect(self.status).toBe(401);
        expect(self.headers.get('www-authenticate')).toMatch(/^Bearer/);
        const said = await self.text();
        expect(said).toContain('the MCP client that asked cannot approve its own call');
        expect(said).toContain('/home/op/.oacp/approval-desks/1.token');
        expect(said).not.toContain(token);
      }
      const bad = await fetch(new URL(`/oacp/approvals/${id}`, http.url), {
        method: 'POST',
        headers: operator,
        body: '{"approve":"yes"}',
      });
      expect(bad.status).toBe(400);
      const ok = await fetch(new URL(`/oacp/approvals/${id}`, http.url), {
        method: 'POST',
        headers: operator,
        body: JSON.stringify({ approve: true, by: 'alice' }),
      });
      expect(ok.status).toBe(200);
      const result = await call;
      expect(text(result)).toContain('via desk');
      expect((await receipts.verify(receiptIndex(result))).predicate).toMatchObject({
        approval: { approvedBy: 'http:alice', method: 'http' },
      });
    } finally {
      await client.close();
      await http.close();
      await receipts.close();
    }
  });

  it('refuses a desk token too short to be secret', () => {
    expect(() => new HttpApprovalDesk('short')).toThrow(/at least 32 characters/);
  });
});

describe('agent identity', () => {
  const agent = keySigner(generateEd25519().privateKey);
  const did = didKeyFromPublicKey(agent.publicKey);
  const signed = (tool: string, args: Record<string, unknown>) =>
    signRequest(agent, { purpose: toolCallPurpose(tool), payload: toolCallPayload(tool, args) });
  const onlyThisAgent = () =>
    new PolicyEngine(loadPolicies(`permit(principal == Agent::"${did}", action, resource == Tool::"echo");`));

  it('uses a verified did:key as the principal and records it', async () => {
    const harness = await inProcess(quirky(), { policy: onlyThisAgent() });
    try {
      const args = { text: 'signed' };
      const result = await harness.client.callTool({
        name: 'echo',
        arguments: args,
        _meta: { [AGENT_REQUEST_META]: signed('echo', args) },
      });
      expect(text(result)).toContain('signed');
      const verified = await harness.receipts.verify(receiptIndex(result), did);
      expect(verified.ok).toBe(true);
      expect(verified.predicate).toMatchObject({ agent: { did, clientId: 'client:oacp-test-client' } });
      // Without the signature the same client is just "client:<name>", which the policy does not permit.
      const unsigned = await harness.client.callTool({ name: 'echo', arguments: args });
      expect(unsigned.isError).toBe(true);
      expect(text(unsigned)).toContain('"client:oacp-test-client"');
    } finally {
      await harness.close();
    }
  });

  it('refuses a replayed or tampered signed request', async () => {
    const harness = await inProcess(quirky(), { policy: onlyThisAgent() });
    try {
      const args = { text: 'once' };
      const proof = signed('echo', args);
      await harness.client.callTool({
        name: 'echo',
        arguments: args,
        _meta: { [AGENT_REQUEST_META]: proof },
      });
      const replay = await harness.client.callTool({
        name: 'echo',
        arguments: args,
        _meta: { [AGENT_REQUEST_META]: proof },
      });
      expect(text(replay)).toContain('agent signature refused: replayed nonce');
      const tampered = await harness.client.callTool({
        name: 'echo',
        arguments: { text: 'changed' },
        _meta: { [AGENT_REQUEST_META]: signed('echo', args) },
      });
      expect(text(tampered)).toContain('payload digest mismatch');
      expect((await harness.receipts.verify(receiptIndex(tampered))).predicate).toMatchObject({
        policy: { effect: 'deny', policyId: 'oacp/agent' },
      });
    } finally {
      await harness.close();
    }
  });

  it('co-signs receipts with the agent key when the bridge runs as that agent (Standard trust)', async () => {
    const receipts = await testReceipts({ agentSigner: agent });
    const harness = await inProcess(quirky(), { agent: did, receipts });
    try {
      const result = await harness.client.callTool({ name: 'echo', arguments: { text: 'both' } });
      const verified = await harness.receipts.verify(receiptIndex(result), did);
      expect(verified.ok).toBe(true);
      expect(verified.trustLevel).toBe('Standard');
    } finally {
      await harness.close();
    }
  });
});
