import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyReceiptEnvelope } from '../../../src/attest/verify-receipt.js';
import { signRequest } from '../../../src/identity/signed-request.js';
import { MANIFEST, raw, startGateway, type TestGateway } from './harness.js';

const MEMORY_SERVER = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  'node_modules/@modelcontextprotocol/server-memory/dist/index.js',
);

describe('MCP servers from the config, through the bridge', () => {
  let gw: TestGateway;
  const dir = mkdtempSync(join(tmpdir(), 'oacp-gw-mcp-'));
  beforeAll(async () => {
    const policy = join(dir, 'policy.cedar');
    writeFileSync(
      policy,
      `@id("memory-all") permit(principal, action == Action::"tools/call", resource);
       @id("no-delete") forbid(principal, action == Action::"tools/call", resource == Tool::"delete_entities");`,
    );
    gw = await startGateway({
      config: {
        mcp: {
          servers: [
            {
              name: 'memory',
              command: process.execPath,
              args: [MEMORY_SERVER],
              tier: 'light',
              policy,
              allow_env: ['MEMORY_FILE_PATH'],
              tool_attributes: { read_graph: { data: 'graph', access: 'read' } },
            },
            // No policy of its own: the bridge's default, beside the gateway's default tool policy.
            { name: 'plain', command: process.execPath, args: [MEMORY_SERVER], tier: 'light' },
          ],
        },
      },
      env: { OACP_MASTER_KEY: '11'.repeat(32), MEMORY_FILE_PATH: join(dir, 'memory.jsonl') },
    });
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const manifest = { ...MANIFEST, capabilities: { tools: { allow: ['memory__*', 'plain__*'] } } };

  it('lists the server tools as <server>__<tool>', async () => {
    const tools = await gw.client.listTools();
    const read = tools.find((tool) => tool.name === 'memory__read_graph');
    expect(read).toMatchObject({ kind: 'mcp', server: 'memory' });
    expect(read?.definitionDigest).toMatch(/^[0-9a-f]{64}$/);
    // From the server's tool_attributes in oacp.yaml.
    expect(read?.attributes).toEqual({ data: 'graph', access: 'read' });
  });

  it('calls an MCP tool as the agent; the bridge logs a receipt naming the agent did', async () => {
    const agent = await gw.client.createAgent({ name: 'mem-user', manifest });
    const created = await gw.client.callTool(
      'memory__create_entities',
      { entities: [{ name: 'alice', entityType: 'person', observations: ['likes tea'] }] },
      { agent: agent.id },
    );
    expect(created.isError).toBe(false);
    const bytes = await gw.gateway.node.log.entry(created.receipt.index);
    const envelope = JSON.parse(Buffer.from(bytes).toString('utf8'));
    const verdict = verifyReceiptEnvelope(envelope, {
      airlockKeys: [gw.gateway.node.keys.airlockSigner().publicKey],
      expectedAgentDid: agent.id,
    });
    expect(verdict.ok).toBe(true);
    expect(verdict.trustLevel).toBe('Standard');
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    expect(statement.predicate.tool.name).toBe('create_entities');
    expect(statement.predicate.server.name).toBe('memory');
    // One decision for the bridge's policy and the gateway's: the receipt names them all, and its
    // digest covers every policy set, not the bridge's file alone.
    const { policyIds, policyDigest } = statement.predicate.policy as {
      policyIds: string[];
      policyDigest: string;
    };
    expect(policyIds[0]).toBe('memory-all');
    expect(policyIds.length).toBeGreaterThan(1);
    const bridgeOnly = createHash('sha256')
      .update(readFileSync(join(dir, 'policy.cedar')))
      .digest('hex');
    expect(policyDigest).not.toBe(bridgeOnly);
    // Exactly one receipt for the call.
    expect(gw.gateway.node.log.size).toBe(created.receipt.index + 1);
  });

  it('names each policy that decided once: the default policy of the gateway and of the bridge is one policy, not two', async () => {
    const agent = await gw.client.createAgent({ name: 'plain-user', manifest });
    const read = await gw.client.callTool('plain__read_graph', {}, { agent: agent.id });
    expect(read.isError).toBe(false);
    const envelope = JSON.parse(
      Buffer.from(await gw.gateway.node.log.entry(read.receipt.index)).toString('utf8'),
    );
    const { policy } = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')).predicate as {
      policy: { policyId?: string; policyIds?: string[] };
    };
    expect(policy.policyId).toBe('oacp-default-allow');
    const ids = policy.policyIds ?? [policy.policyId];
    expect(ids).toEqual([...new Set(ids)]);
  });

  it('runs agent code that calls the MCP tool, with the bridge receipt in its execution receipt', async () => {
    const agent = await gw.client.createAgent({
      name: 'mem-agent',
      manifest,
      code: 'function main() { return oacp.tools.call("memory__read_graph", {}); }',
    });
    await gw.client.startAgent(agent.id);
    const run = await gw.client.runAgent(agent.id);
    expect(JSON.stringify(run.value)).toContain('alice');
    expect(run.toolCalls).toHaveLength(1);
  });

  it("applies the server's own Cedar policy in the bridge, with a receipt for the refusal", async () => {
    const agent = await gw.client.createAgent({ name: 'mem-deleter', manifest });
    const refusal = await gw.client
      .callTool('memory__delete_entities', { entityNames: ['alice'] }, { agent: agent.id })
      .catch((e: unknown) => e);
    expect(refusal).toMatchObject({
      status: 403,
      code: 'RUNTIME_POLICY_DENIED',
      message: expect.stringContaining('no-delete'),
    });
  });

  it('refuses an MCP tool outside the agent manifest before reaching the bridge', async () => {
    const agent = await gw.client.createAgent({ name: 'no-mem', manifest: MANIFEST });
    await expect(gw.client.callTool('memory__read_graph', {}, { agent: agent.id })).rejects.toMatchObject({
      status: 403,
      code: 'RUNTIME_TOOL_DENIED',
    });
  });

  /** The predicate of the receipt at `index`. */
  const predicateAt = async (index: number) => {
    const envelope = JSON.parse(Buffer.from(await gw.gateway.node.log.entry(index)).toString('utf8'));
    return JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')).predicate as Record<
      string,
      unknown
    >;
  };

  it('attack: a tool the server does not have is refused by its bridge with one receipt; the server never sees it', async () => {
    const agent = await gw.client.createAgent({ name: 'mem-prober', manifest });
    const before = gw.gateway.node.log.size;
    const refusal = await gw.client
      .callTool('memory__drop_database', { all: true }, { agent: agent.id })
      .catch((e: unknown) => e);
    expect(refusal).toMatchObject({ status: 404, code: 'RUNTIME_TOOL_UNKNOWN' });
    expect(gw.gateway.node.log.size).toBe(before + 1);
    expect(await predicateAt(before)).toMatchObject({
      agent: { did: agent.id },
      server: { name: 'memory' },
      tool: { name: 'drop_database' },
      policy: { effect: 'deny', reason: expect.stringContaining('memory__drop_database') },
    });
  });

  it('attack: arguments holding names a Go server reads as one (entityNames and EntityNames) are refused by the bridge with one receipt, never sent', async () => {
    const agent = await gw.client.createAgent({ name: 'mem-twins', manifest });
    const before = gw.gateway.node.log.size;
    const refusal = await gw.client
      .callTool(
        'memory__delete_entities',
        { entityNames: ['nobody'], EntityNames: ['alice'] },
        { agent: agent.id },
      )
      .catch((e: unknown) => e);
    expect(refusal).toMatchObject({ status: 400, message: expect.stringContaining('only in case') });
    expect(gw.gateway.node.log.size).toBe(before + 1);
    expect(await predicateAt(before)).toMatchObject({
      tool: { name: 'delete_entities' },
      policy: { effect: 'deny', reason: expect.stringContaining('"entityNames" and "EntityNames"') },
    });
  });

  it('attack: a name of no configured server is refused with one receipt', async () => {
    const agent = await gw.client.createAgent({ name: 'srv-prober', manifest });
    const before = gw.gateway.node.log.size;
    const refusal = await gw.client
      .callTool('nosuch__read_graph', {}, { agent: agent.id })
      .catch((e: unknown) => e);
    expect(refusal).toMatchObject({ status: 404, code: 'RUNTIME_TOOL_UNKNOWN' });
    expect(gw.gateway.node.log.size).toBe(before + 1);
    expect(await predicateAt(before)).toMatchObject({
      server: { name: 'unknown' },
      tool: { name: 'nosuch__read_graph' },
      policy: { effect: 'deny' },
    });
  });

  it('attack: a replayed signed call of an MCP tool is a 401 and one receipt naming the replay; it does not run again', async () => {
    const agent = await gw.client.createAgent({ name: 'mem-replayer', manifest });
    const signer = await gw.gateway.services.agents.signer(agent.id);
    if (signer === undefined) throw new Error('no signer');
    const path = '/v1/tools/memory__create_entities/call';
    const body = JSON.stringify({
      arguments: { entities: [{ name: 'replayed', entityType: 'thing', observations: ['once'] }] },
    });
    const signed = signRequest(signer, { purpose: `POST ${path}`, payload: body });
    const init = {
      method: 'POST',
      headers: {
        'oacp-signed-request': Buffer.from(JSON.stringify(signed)).toString('base64url'),
        'content-type': 'application/json',
      },
      body,
    };
    const first = await raw(gw.url, path, init);
    expect(first.status).toBe(200);
    const afterFirst = gw.gateway.node.log.size;
    const replay = await raw(gw.url, path, init);
    expect(replay.status).toBe(401);
    expect(gw.gateway.node.log.size).toBe(afterFirst + 1);
    expect(await predicateAt(afterFirst)).toMatchObject({
      agent: { did: agent.id },
      server: { name: 'memory' },
      tool: { name: 'create_entities' },
      policy: { effect: 'deny', reason: expect.stringContaining('replayed nonce') },
    });
    // Refused before forwarding: no result was digested, so the server did not run it again.
    expect(await predicateAt(afterFirst)).not.toHaveProperty('resultDigest');
  });
});
