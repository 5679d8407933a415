import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { sha256Hex } from '../../../src/core/digest.js';
import { defineTool } from '../../../src/gateway/runtime/define-tool.js';
import { defaultPolicyEngine } from '../../../src/mcp/default-policy.js';
import { combinedPolicyDigest } from '../../../src/policy/combined-digest.js';
import { PolicyEngine } from '../../../src/policy/engine.js';
import { loadPolicies } from '../../../src/policy/load.js';
import { MANIFEST, raw, startGateway, type TestGateway, testTools } from './harness.js';
import { receiptPredicate } from './signed-call.js';

/**
 * Issue 10, gateway: an operator's argument-level rule in the gateway's global
 * policy matches the call's arguments as the same rule does in the tool-call
 * policy (`context.arguments`, converted with the same bounds, after the same
 * twin-name checks), whether the agent signs its call or an API key makes it;
 * the refusal's receipt names the rule and the digest over both policy sets.
 */
const FORBID_ETC = `@id("no-etc")
forbid (principal, action == Action::"tools/call", resource)
when { context.arguments has path && context.arguments.path like "/etc/*" };
`;
const GLOBAL = `@id("allow-all")
permit (principal, action, resource);

${FORBID_ETC}`;

const readFile = defineTool({
  name: 'read_file',
  input: z.strictObject({ path: z.string() }),
  run: ({ path }) => ({ read: path }),
});

async function caller(gw: TestGateway, name: string) {
  const manifest = { ...MANIFEST, name, capabilities: { tools: { allow: ['read_file'] } } };
  const agent = await gw.client.createAgent({ name, manifest });
  const signer = await gw.gateway.services.agents.signer(agent.id);
  if (signer === undefined) throw new Error('no signer');
  return { agent, client: gw.clientAs(signer) };
}

describe('global policy: argument-level rules', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ policy: GLOBAL, tools: [...testTools(), readFile] });
  });
  afterAll(async () => gw?.close());

  it('attack: a signed call whose path the global forbid names is refused, receipted with the global digest', async () => {
    const { agent, client } = await caller(gw, 'etc-reader');
    const log = gw.gateway.node.log;
    const size = log.size;
    const refusal = await client.callTool('read_file', { path: '/etc/shadow' }).catch((e: unknown) => e);
    expect(refusal).toMatchObject({
      status: 403,
      code: 'RUNTIME_POLICY_DENIED',
      message: expect.stringContaining('no-etc'),
    });
    expect(log.size).toBe(size + 1);
    expect(await receiptPredicate(gw, size)).toMatchObject({
      agent: { did: agent.id },
      tool: { name: 'read_file' },
      outcome: 'denied',
      policy: {
        effect: 'deny',
        policyIds: ['no-etc'],
        reason: 'global policy: forbidden by policy no-etc',
        policyDigest: combinedPolicyDigest(defaultPolicyEngine().policies.digest, sha256Hex(GLOBAL)),
      },
    });
  });

  it('attack: the same call made with an API key is refused the same way', async () => {
    const { agent } = await caller(gw, 'etc-reader-by-key');
    await expect(
      gw.client.callTool('read_file', { path: '/etc/passwd' }, { agent: agent.id }),
    ).rejects.toMatchObject({ status: 403, message: expect.stringContaining('no-etc') });
  });

  it('a permitted path passes', async () => {
    const { client } = await caller(gw, 'tmp-reader');
    expect((await client.callTool('read_file', { path: '/tmp/notes' })).result).toEqual({
      read: '/tmp/notes',
    });
  });
});

describe('the same rule as a tool-call policy', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    const toolPolicy = new PolicyEngine(
      loadPolicies(`@id("allow-all") permit (principal, action, resource);\n${FORBID_ETC}`),
    );
    gw = await startGateway({ toolPolicy, tools: [...testTools(), readFile] });
  });
  afterAll(async () => gw?.close());

  it('refuses the same call and passes the same permitted one', async () => {
    const { client } = await caller(gw, 'etc-reader-tool-level');
    await expect(client.callTool('read_file', { path: '/etc/shadow' })).rejects.toMatchObject({
      status: 403,
      message: expect.stringContaining('no-etc'),
    });
    expect((await client.callTool('read_file', { path: '/tmp/notes' })).result).toEqual({
      read: '/tmp/notes',
    });
  });
});

const MEMORY_SERVER = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  'node_modules/@modelcontextprotocol/server-memory/dist/index.js',
);

describe("global policy: argument-level rules on an MCP server's tool", () => {
  let gw: TestGateway;
  const dir = mkdtempSync(join(tmpdir(), 'oacp-gw-global-args-'));
  beforeAll(async () => {
    gw = await startGateway({
      policy: `@id("allow-all") permit (principal, action, resource);
@id("no-secret-search") forbid (principal, action == Action::"tools/call", resource)
when { context.arguments has query && context.arguments.query like "secret*" };`,
      config: {
        mcp: {
          servers: [
            {
              name: 'memory',
              command: process.execPath,
              args: [MEMORY_SERVER],
              tier: 'light',
              allow_env: ['MEMORY_FILE_PATH'],
            },
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

  async function searcher(name: string) {
    const manifest = { ...MANIFEST, name, capabilities: { tools: { allow: ['memory__*'] } } };
    const agent = await gw.client.createAgent({ name, manifest });
    const signer = await gw.gateway.services.agents.signer(agent.id);
    if (signer === undefined) throw new Error('no signer');
    return { agent, client: gw.clientAs(signer) };
  }

  it('attack: the global forbid refuses the MCP call its argument names; another query passes', async () => {
    const { client } = await searcher('secret-searcher');
    const log = gw.gateway.node.log;
    const size = log.size;
    await expect(client.callTool('memory__search_nodes', { query: 'secret plans' })).rejects.toMatchObject({
      status: 403,
      message: expect.stringContaining('no-secret-search'),
    });
    expect(log.size).toBe(size + 1);
    expect(await receiptPredicate(gw, size)).toMatchObject({
      outcome: 'denied',
      policy: { effect: 'deny', policyIds: ['no-secret-search'] },
    });
    const ok = await client.callTool('memory__search_nodes', { query: 'plans' });
    expect(ok.isError).toBe(false);
  });

  it('attack: a twin member name carrying the argument (Query) is refused before any policy, with a receipt', async () => {
    const { agent } = await searcher('twin-searcher');
    const key = await gw.keyWith(['tools:call']);
    const log = gw.gateway.node.log;
    const size = log.size;
    // A case-folding server would read the second member; no policy judges a call read two ways.
    const answer = await raw(gw.url, '/v1/tools/memory__search_nodes/call', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: `{"agent":"${agent.id}","arguments":{"query":"plans","Query":"secret plans"}}`,
    });
    expect(answer.status).toBe(400);
    expect(log.size).toBe(size + 1);
    expect(await receiptPredicate(gw, size)).toMatchObject({
      outcome: 'denied',
      policy: { effect: 'deny', reason: expect.stringContaining('differ only in case') },
    });
  });
});
