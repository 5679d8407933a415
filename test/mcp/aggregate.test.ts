import { join } from 'node:path';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { jcsDigest } from '../../src/core/jcs.js';
import { createAggregateBridge } from '../../src/mcp/aggregate.js';
import { createBridge } from '../../src/mcp/bridge.js';
import { fromSdkTransport } from '../../src/mcp/transport.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { loadPolicies } from '../../src/policy/load.js';
import { lightUpstream, receiptIndex, SERVERS, testClient, testReceipts, text } from './helpers.js';

const QUIRKY = join(import.meta.dirname, 'fixtures', 'quirky-server.mjs');

describe('several servers behind one bridge', () => {
  it('namespaces tools and prompts, routes calls, and keeps each server under its own policy', async () => {
    const receipts = await testReceipts();
    const quirkyPolicy = new PolicyEngine(
      loadPolicies(
        'permit(principal, action, resource == Tool::"echo") when { context.server == "quirky" };',
      ),
    );
    const bridge = createAggregateBridge(
      new Map([
        [
          'quirky',
          createBridge({ upstream: lightUpstream('quirky', [QUIRKY]), receipts, policy: quirkyPolicy }),
        ],
        [
          'everything',
          createBridge({ upstream: lightUpstream('everything', [SERVERS.everything, 'stdio']), receipts }),
        ],
      ]),
      { receipts },
    );
    const client = testClient({ sampling: {} });
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      role: 'assistant',
      content: { type: 'text', text: 'sampled via the aggregate' },
      model: 'm',
    }));
    const [clientSide, bridgeSide] = InMemoryTransport.createLinkedPair();
    await bridge.serve(fromSdkTransport(bridgeSide));
    await client.connect(clientSide);
    try {
      expect(client.getServerCapabilities()).toMatchObject({ tools: {}, prompts: {}, resources: {} });
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      expect(names).toEqual(expect.arrayContaining(['quirky__echo', 'quirky__pid', 'everything__get-sum']));
      const echo = await client.callTool({ name: 'quirky__echo', arguments: { text: 'routed' } });
      expect(text(echo)).toBe('routed');
      expect((await receipts.verify(receiptIndex(echo))).predicate).toMatchObject({
        server: { name: 'quirky' },
        tool: { name: 'echo' },
        policy: { effect: 'allow' },
      });
      const pid = await client.callTool({ name: 'quirky__pid', arguments: {} });
      expect(pid.isError).toBe(true);
      expect(text(pid)).toContain('deny by default');
      expect(
        text(await client.callTool({ name: 'everything__get-sum', arguments: { a: 1, b: 1 } })),
      ).toContain('2');
      const sampled = await client.callTool({
        name: 'everything__trigger-sampling-request',
        arguments: { prompt: 'hi', maxTokens: 5 },
      });
      expect(text(sampled)).toContain('sampled via the aggregate');
      // Attack: a name no configured server has is refused, and the refusal has its one receipt.
      const receiptsBefore = receipts.records.length;
      const unrouted = await client.callTool({ name: 'nobody__echo', arguments: { x: 1 } });
      expect(unrouted.isError).toBe(true);
      expect(text(unrouted)).toContain('names no configured server');
      expect(receipts.records.length).toBe(receiptsBefore + 1);
      expect((await receipts.verify(receiptIndex(unrouted))).predicate).toMatchObject({
        server: { name: 'unknown' },
        tool: { name: 'nobody__echo' },
        argumentsDigest: jcsDigest({ x: 1 }),
        policy: { effect: 'deny', reason: expect.stringContaining('names no configured server') },
      });
      const prompts = (await client.listPrompts()).prompts.map((prompt) => prompt.name);
      expect(prompts).toContain('everything__simple-prompt');
      expect((await client.getPrompt({ name: 'everything__simple-prompt' })).messages.length).toBeGreaterThan(
        0,
      );
      const { resources } = await client.listResources();
      const first = resources[0];
      if (first === undefined) throw new Error('no resources');
      expect((await client.readResource({ uri: first.uri })).contents[0]?.uri).toBe(first.uri);
    } finally {
      await client.close();
      await bridge.close();
      await receipts.close();
    }
  });
});
