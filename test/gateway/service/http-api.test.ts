import { describe, expect, it } from 'vitest';
import { OacpApiError } from '../../../src/client/index.js';
import { signRequest } from '../../../src/identity/signed-request.js';
import { MANIFEST, raw } from './harness.js';
import { useGateway } from './use-gateway.js';

describe('gateway HTTP API', () => {
  const gw = useGateway();

  describe('authentication', () => {
    it('answers /healthz and the public log routes without credentials', async () => {
      expect((await raw(gw.url, '/healthz')).status).toBe(200);
      expect((await raw(gw.url, '/v1/log/checkpoint')).status).toBe(200);
    });

    it('refuses a request without credentials', async () => {
      const response = await raw(gw.url, '/v1/agents');
      expect(response.status).toBe(401);
      expect(response.json).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    });

    it('refuses a wrong or malformed key without echoing it', async () => {
      const forged = `oacp_0123456789abcdef_${'A'.repeat(43)}`;
      const wrong = await raw(gw.url, '/v1/agents', { headers: { authorization: `Bearer ${forged}` } });
      expect(wrong.status).toBe(401);
      expect(wrong.text).not.toContain('AAAAAAAAAA');
      // The secret is base64url and may itself hold '_': everything after `oacp_<16 hex>_`.
      const secretPart = adminSecret(gw.adminKey);
      const tampered = await raw(gw.url, '/v1/agents', {
        headers: { authorization: `Bearer ${gw.adminKey.slice(0, -2)}xx` },
      });
      expect(tampered.status).toBe(401);
      expect(tampered.text).not.toContain(secretPart.slice(0, 20));
      const malformed = await raw(gw.url, '/v1/agents', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
      expect(malformed.status).toBe(401);
      expect(malformed.text).not.toContain('dXNlcjpwYXNz');
    });

    it('records each refusal as an auth_failed security event naming the key id, never the secret', async () => {
      const keyId = gw.adminKey.split('_')[1] ?? '';
      const wrongSecret = `Zz9${'q'.repeat(40)}`;
      const presented = `oacp_${keyId}_${wrongSecret}`;
      const seen = await gw.gateway.store.securityEvents.list({ kind: 'auth_failed' });
      const afterId = seen.at(-1)?.id ?? 0;
      const wrong = await raw(gw.url, '/v1/agents', { headers: { authorization: `Bearer ${presented}` } });
      expect(wrong.status).toBe(401);
      const malformed = await raw(gw.url, '/v1/agents', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
      expect(malformed.status).toBe(401);
      const rows = await gw.gateway.store.securityEvents.list({ kind: 'auth_failed', afterId });
      expect(rows).toHaveLength(2);
      const [wrongRow, malformedRow] = rows;
      expect(wrongRow?.subject).toBe(keyId);
      expect(JSON.parse(wrongRow?.detail ?? '{}')).toEqual({
        type: 'api_key_refused',
        reason: `wrong secret for API key ${keyId}`,
      });
      expect(malformedRow?.subject).toBeNull();
      expect(JSON.parse(malformedRow?.detail ?? '{}')).toMatchObject({ type: 'malformed' });
      for (const row of rows) {
        expect(row.detail).not.toContain(wrongSecret);
        expect(row.detail).not.toContain(presented);
        expect(row.detail).not.toContain('dXNlcjpwYXNz');
        expect(JSON.stringify(row)).not.toContain(adminSecret(gw.adminKey));
      }
    });

    it('enforces API key scopes', async () => {
      const reader = await gw.keyWith(['agents:read']);
      const create = await raw(gw.url, '/v1/agents', {
        method: 'POST',
        headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'nope', manifest: MANIFEST }),
      });
      expect(create.status).toBe(403);
      expect(create.json).toMatchObject({
        error: { code: 'FORBIDDEN', message: expect.stringContaining('agents:write') },
      });
      const metrics = await raw(gw.url, '/metrics', { headers: { authorization: `Bearer ${reader}` } });
      expect(metrics.status).toBe(403);
      const list = await raw(gw.url, '/v1/agents', { headers: { authorization: `Bearer ${reader}` } });
      expect(list.status).toBe(200);
    });

    it('refuses a Host header other than the loopback names (DNS rebinding)', async () => {
      const { request } = await import('node:http');
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: gw.url.hostname,
            port: gw.url.port,
            path: '/healthz',
            headers: { host: 'attacker.example' },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(403);
    });

    it('accepts a signed request from an agent once, and refuses its replay', async () => {
      const agent = await gw.client.createAgent({ name: 'signer', manifest: MANIFEST });
      const signer = await gw.gateway.services.agents.signer(agent.id);
      if (signer === undefined) throw new Error('no signer');
      const path = `/v1/agents/${encodeURIComponent(agent.id)}`;
      const signed = signRequest(signer, { purpose: `GET ${path}`, payload: '' });
      const header = Buffer.from(JSON.stringify(signed)).toString('base64url');
      const first = await raw(gw.url, path, { headers: { 'oacp-signed-request': header } });
      expect(first.status).toBe(200);
      const replay = await raw(gw.url, path, { headers: { 'oacp-signed-request': header } });
      expect(replay.status).toBe(401);
      expect(replay.json).toMatchObject({ error: { message: expect.stringContaining('replayed nonce') } });
      // Signed for one path, used for another.
      const moved = signRequest(signer, { purpose: `GET ${path}`, payload: '' });
      const other = await raw(gw.url, '/v1/agents', {
        headers: { 'oacp-signed-request': Buffer.from(JSON.stringify(moved)).toString('base64url') },
      });
      expect(other.status).toBe(401);
      expect(other.json).toMatchObject({ error: { message: expect.stringContaining('purpose mismatch') } });
    });

    it('lets an agent act only as itself', async () => {
      const a = await gw.client.createAgent({ name: 'self-a', manifest: MANIFEST });
      const b = await gw.client.createAgent({ name: 'self-b', manifest: MANIFEST });
      const signer = await gw.gateway.services.agents.signer(a.id);
      if (signer === undefined) throw new Error('no signer');
      const asA = gw.clientAs(signer);
      await asA.putContext(a.id, 'mine', 1);
      expect(await asA.getContext(a.id, 'mine')).toBe(1);
      await expect(asA.getContext(b.id, 'x')).rejects.toMatchObject({ status: 403, code: 'FORBIDDEN' });
      await expect(asA.createAgent({ name: 'child', manifest: MANIFEST })).rejects.toMatchObject({
        status: 403,
      });
      await expect(asA.callTool('echo', { text: 'x' }, { agent: b.id })).rejects.toMatchObject({
        status: 403,
      });
    });
  });

  describe('agents', () => {
    it('creates, starts, runs, suspends, resumes and retires an agent', async () => {
      const created = await gw.client.createAgent({
        name: 'lifecycle',
        manifest: MANIFEST,
        code: 'function main(input) { return oacp.tools.call("add", { a: input.a, b: 2 }).then((r) => r.sum); }',
      });
      expect(created.state).toBe('created');
      expect(created.id).toMatch(/^did:key:z6Mk/);
      const started = await gw.client.startAgent(created.id);
      expect(started.state).toBe('running');
      expect(started.runtime.status).toBe('running');
      const run = await gw.client.runAgent(created.id, { input: { a: 40 } });
      expect(run.value).toBe(42);
      expect(run.toolCalls).toHaveLength(1);

      await gw.client.suspendAgent(created.id);
      await expect(gw.client.runAgent(created.id, { input: { a: 1 } })).rejects.toMatchObject({
        status: 409,
        code: 'RUNTIME_AGENT_NOT_RUNNING',
      });
      expect((await gw.client.resumeAgent(created.id)).runtime.status).toBe('running');
      expect((await gw.client.runAgent(created.id, { input: { a: 1 } })).value).toBe(3);
      const retired = await gw.client.retireAgent(created.id);
      expect(retired.state).toBe('retired');
      expect(retired.runtime.status).toBe('stopped');
      await expect(gw.client.startAgent(created.id)).rejects.toMatchObject({
        status: 409,
        code: 'AGENT_ILLEGAL_TRANSITION',
      });
    });

    it('retires a parent with its children: their sandboxes stop and their keys no longer sign', async () => {
      const parent = await gw.client.createAgent({ name: 'cascade-parent', manifest: MANIFEST });
      const child = await gw.client.createAgent({
        name: 'cascade-child',
        manifest: MANIFEST,
        parent: parent.id,
        code: 'function main() { return 1; }',
      });
      expect((await gw.client.startAgent(child.id)).runtime.status).toBe('running');
      await gw.client.retireAgent(parent.id);
      const after = (await gw.client.listAgents()).find((agent) => agent.id === child.id);
      expect(after).toMatchObject({ state: 'retired', runtime: { status: 'stopped' } });
      expect(await gw.gateway.services.agents.signer(child.id)).toBeUndefined();
    });

    it('refuses a malformed create body, naming the field', async () => {
      await expect(gw.client.createAgent({ name: 'Bad Name', manifest: MANIFEST })).rejects.toMatchObject({
        status: 400,
        code: 'BAD_REQUEST',
        message: expect.stringContaining('name'),
      });
      await expect(
        gw.client.createAgent({ name: 'badmanifest', manifest: { kind: 'x' } }),
      ).rejects.toMatchObject({
        status: 400,
      });
      const notJson = await raw(gw.url, '/v1/agents', {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
        body: '{not json',
      });
      expect(notJson.status).toBe(400);
    });

    it('refuses bodies over the size limit', async () => {
      const huge = await raw(gw.url, '/v1/agents', {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'big', manifest: MANIFEST, code: 'x'.repeat(2 * 1024 * 1024) }),
      });
      expect(huge.status).toBe(413);
    });

    it('answers 422 with the execution receipt when agent code throws', async () => {
      const agent = await gw.client.createAgent({
        name: 'thrower',
        manifest: MANIFEST,
        code: 'function main() { throw new Error("nope"); }',
      });
      await gw.client.startAgent(agent.id);
      const error = await gw.client.runAgent(agent.id).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OacpApiError);
      expect(error).toMatchObject({ status: 422, code: 'RUNTIME_AGENT_RUN_FAILED' });
      expect((error as OacpApiError).receipt?.index).toBeGreaterThanOrEqual(0);
    });
  });

  describe('tools', () => {
    it('lists native tools with their JSON Schema', async () => {
      const tools = await gw.client.listTools();
      const echo = tools.find((tool) => tool.name === 'echo');
      expect(echo).toMatchObject({ kind: 'native', server: 'native', inputSchema: { type: 'object' } });
    });

    it('calls a tool as an agent and returns the receipt, which verifies offline', async () => {
      const agent = await gw.client.createAgent({ name: 'caller', manifest: MANIFEST });
      const called = await gw.client.callTool('echo', { text: 'hello' }, { agent: agent.id });
      expect(called.result).toEqual({ echoed: 'hello' });
      const airlock = gw.gateway.node.keys.airlockSigner().publicKey;
      const verdict = await gw.client.verifyReceipt(called.receipt.index, {
        airlockKeys: [airlock],
        logKey: gw.gateway.node.log.verifierKey,
        expectedAgentDid: agent.id,
      });
      expect(verdict.ok).toBe(true);
      expect(verdict.checks.map((check) => check.name)).toContain('log-inclusion');
      const wrongKey = await gw.client.verifyReceipt(called.receipt.index, {
        airlockKeys: [new Uint8Array(32).fill(7)],
      });
      expect(wrongKey.ok).toBe(false);
    });

    it('answers 400 for bad arguments, 404 for an unknown tool, 403 for a tool outside the manifest', async () => {
      const agent = await gw.client.createAgent({ name: 'checker', manifest: MANIFEST });
      await expect(gw.client.callTool('add', { a: 'one', b: 2 }, { agent: agent.id })).rejects.toMatchObject({
        status: 400,
        code: 'RUNTIME_TOOL_ARGUMENTS',
      });
      await expect(gw.client.callTool('nope', {}, { agent: agent.id })).rejects.toMatchObject({
        status: 404,
      });
      const denied = await gw.client
        .callTool('patient_record', { id: 'p1' }, { agent: agent.id })
        .catch((e: unknown) => e);
      expect(denied).toMatchObject({ status: 403, code: 'RUNTIME_TOOL_DENIED' });
      expect((denied as OacpApiError).receipt).toBeDefined();
    });
  });

  describe('context', () => {
    it('reads and writes an agent context and 404s a missing key', async () => {
      const agent = await gw.client.createAgent({ name: 'ctx', manifest: MANIFEST });
      await gw.client.putContext(agent.id, 'plan', { steps: [1, 2, 3] });
      expect(await gw.client.getContext(agent.id, 'plan')).toEqual({ steps: [1, 2, 3] });
      await expect(gw.client.getContext(agent.id, 'absent')).rejects.toMatchObject({ status: 404 });
      const badKey = await raw(
        gw.url,
        `/v1/agents/${encodeURIComponent(agent.id)}/context/${'k'.repeat(300)}`,
        {
          headers: { authorization: `Bearer ${gw.adminKey}` },
        },
      );
      expect(badKey.status).toBe(400);
    });
  });

  describe('credentials', () => {
    it('stores a credential without ever answering its value, and injects it into matching tool calls', async () => {
      const agent = await gw.client.createAgent({ name: 'creds', manifest: MANIFEST });
      const secret = 'ghp_supersecretvalue123';
      const path = `/v1/agents/${encodeURIComponent(agent.id)}/credentials/gh-token`;
      const headers = { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' };
      const put = await raw(gw.url, path, {
        method: 'PUT',
        headers,
        body: JSON.stringify({
          tool: 'github.*',
          inject: { kind: 'header', name: 'authorization' },
          value: secret,
        }),
      });
      expect(put.status).toBe(200);
      expect(put.text).not.toContain(secret);
      const list = await raw(gw.url, `/v1/agents/${encodeURIComponent(agent.id)}/credentials`, { headers });
      expect(list.json).toMatchObject({ credentials: [{ name: 'gh-token', tool: 'github.*' }] });
      expect(list.text).not.toContain(secret);
      const called = await gw.client.callTool('github.whoami', {}, { agent: agent.id });
      expect(called.result).toEqual({ names: ['gh-token'], headerCount: 1 });
      const other = await gw.client.createAgent({ name: 'creds-other', manifest: MANIFEST });
      expect((await gw.client.callTool('github.whoami', {}, { agent: other.id })).result).toEqual({
        names: [],
        headerCount: 0,
      });
      const reader = await gw.keyWith(['agents:read']);
      const refused = await raw(gw.url, path, {
        method: 'PUT',
        headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tool: 'x', inject: { kind: 'env', name: 'T' }, value: secret }),
      });
      expect(refused.status).toBe(403);
      const short = await raw(gw.url, path, {
        method: 'PUT',
        headers,
        body: JSON.stringify({ tool: 'x', inject: { kind: 'env', name: 'T' }, value: 'short' }),
      });
      expect(short.status).toBe(400);
      expect(short.text).not.toContain('"short"');
    });
  });

  describe('log and receipts', () => {
    it('serves receipts with a tlog-proof, and the c2sp tiles read-only', async () => {
      const agent = await gw.client.createAgent({ name: 'tiles', manifest: MANIFEST });
      const { receipt } = await gw.client.callTool('echo', { text: 't' }, { agent: agent.id });
      const fetched = await gw.client.receipt(receipt.index);
      expect(fetched.proof).toContain('c2sp.org/tlog-proof@v1');
      await gw.gateway.node.log.sync();
      const checkpoint = await gw.client.checkpoint();
      expect(checkpoint.split('\n')[0]).toBe('oacp.test/gateway');
      const tile = await raw(
        gw.url,
        `/v1/log/tile/0/000.p/${String(Number(checkpoint.split('\n')[1]) % 256)}`,
      );
      expect(tile.status).toBe(200);
      expect(tile.headers.get('content-type')).toBe('application/octet-stream');
      const entries = await raw(
        gw.url,
        `/v1/log/tile/entries/000.p/${String(Number(checkpoint.split('\n')[1]) % 256)}`,
      );
      expect(entries.status).toBe(200);
    });

    it('refuses paths outside the tile tree', async () => {
      for (const path of [
        '/v1/log/tile/../log.wal',
        '/v1/log/tile/%2e%2e/log.wal',
        '/v1/log/tile/0/../../log.lock',
        '/v1/log/tile/0/000.p/0',
        '/v1/log/tile/64/000',
        '/v1/log/tile/entries/0000',
      ]) {
        const response = await raw(gw.url, path);
        expect([400, 401, 404]).toContain(response.status);
        expect(response.text).not.toContain('OACPWAL');
      }
      expect((await raw(gw.url, '/v1/receipts/999999')).status).toBe(404);
      expect((await raw(gw.url, '/v1/receipts/-1')).status).toBe(400);
    });
  });

  describe('metrics', () => {
    it('exposes the seed metric names in Prometheus format to a key with audit:read', async () => {
      const agent = await gw.client.createAgent({ name: 'metered', manifest: MANIFEST });
      await gw.client.callTool('echo', { text: 'm' }, { agent: agent.id });
      await gw.client.putContext(agent.id, 'k', 'v');
      const auditor = await gw.keyWith(['audit:read']);
      const response = await raw(gw.url, '/metrics', { headers: { authorization: `Bearer ${auditor}` } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4');
      expect(response.text).toContain('oacp_tool_calls_total{tool="echo",agent="metered",status="ok"} 1');
      expect(response.text).toContain('oacp_context_operations_total{operation="put",agent="metered"} 1');
      expect(response.text).toContain('oacp_attestations_generated{agent="metered"} 1');
      expect(response.text).toMatch(
        /oacp_security_events_total\{severity="warning",type="auth_api_key_refused"\} \d+/,
      );
      expect(response.text).toMatch(
        /oacp_http_request_duration_seconds_bucket\{method="POST",route="\/v1\/tools\/:name\/call",status="200",le="\+Inf"\} \d+/,
      );
    });
  });
});

/** The secret of an `oacp_<16 hex id>_<secret>` key (base64url: it may contain '_'). */
function adminSecret(key: string): string {
  const secret = key.slice('oacp_'.length + 16 + 1);
  if (secret.length < 40) throw new Error('not an oacp_<id>_<secret> key');
  return secret;
}
