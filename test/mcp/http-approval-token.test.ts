import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliHttpBridge, startCliHttpBridge } from './cli-http-bridge.js';

/**
 * Issue 10 ("approval cannot come from the party that asked"): `oacp mcp run
 * --http` served its approval desk on the listener its MCP clients use, with
 * no check, so an agent whose call waited for approval could list it at
 * `/oacp/approvals` and approve it itself. The desk now answers only the
 * operator's token, which the bridge writes to a 0600 file of the home at
 * start and names (never prints) in its log. A real `@modelcontextprotocol/
 * server-memory` behind the CLI (hardened: a light server could read the token
 * itself, test/escape/approval-self.test.ts), the official SDK client as the agent.
 */
describe("oacp mcp run --http: the approval desk is the operator's", () => {
  let bridge: CliHttpBridge;
  let url: URL;
  let tokenFile: string;
  beforeAll(async () => {
    bridge = await startCliHttpBridge(
      'oacp-desk-token-',
      [
        '--require-approval',
        'read_graph',
        // Not root: this host's cgroup v1 limits are not enforceable, accepted by name.
        ...(process.getuid?.() === 0 ? [] : ['--allow-unenforced', 'memory,pids,cpu,disk_io']),
      ],
      'hardened',
    );
    url = bridge.url;
    tokenFile =
      (await bridge.waitFor(/approvals at \S+ need Authorization: Bearer \$\(cat (\S+)\)/))[1] ?? '';
  }, 90_000);
  afterAll(async () => {
    await bridge?.close();
  });

  it('keeps the token in a 0600 file of the home, never in its log', () => {
    expect(tokenFile.startsWith(join(bridge.home, 'approval-desks'))).toBe(true);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(bridge.stderr()).not.toContain(token);
  });

  it('attack: the agent whose call waits cannot list or approve it; the operator with the token can', async () => {
    const agent = new Client({ name: 'agent', version: '1.0.0' });
    await agent.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: bridge.headers } }));
    try {
      const call = agent.callTool({ name: 'read_graph', arguments: {} });
      const desk = new URL('/oacp/approvals', url);
      const operator = { authorization: `Bearer ${readFileSync(tokenFile, 'utf8').trim()}` };
      let id: string | undefined;
      for (let i = 0; i < 300 && id === undefined; i++) {
        const listed = (await (await fetch(desk, { headers: operator })).json()) as {
          pending: { id: string; request: { tool: string } }[];
        };
        id = listed.pending.find((each) => each.request.tool === 'read_graph')?.id;
        if (id === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(id).toBeDefined();
      // What the agent can send: it knows the listener and its own client token (and, say, guessed the id), not the operator's.
      expect((await fetch(desk)).status).toBe(401);
      expect((await fetch(desk, { headers: bridge.headers })).status).toBe(401);
      const self = await fetch(new URL(`/oacp/approvals/${id}`, url), {
        method: 'POST',
        headers: bridge.headers,
        body: JSON.stringify({ approve: true, by: 'the-agent' }),
      });
      expect(self.status).toBe(401);
      expect(await self.text()).toContain(`the token in ${tokenFile} (0600)`);
      const decided = await fetch(new URL(`/oacp/approvals/${id}`, url), {
        method: 'POST',
        headers: operator,
        body: JSON.stringify({ approve: true, by: 'alice' }),
      });
      expect(decided.status).toBe(200);
      const result = await call;
      expect(result.isError).not.toBe(true);
    } finally {
      await agent.close();
    }
  });

  it('removes the token file when the bridge ends', async () => {
    await bridge.stop();
    expect(existsSync(tokenFile)).toBe(false);
  });
});
