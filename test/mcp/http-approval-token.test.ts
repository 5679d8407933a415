import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshHome } from '../gateway/service/node-home.js';

/**
 * Issue 10 ("approval cannot come from the party that asked"): `oacp mcp run
 * --http` served its approval desk on the listener its MCP clients use, with
 * no check, so an agent whose call waited for approval could list it at
 * `/oacp/approvals` and approve it itself. The desk now answers only the
 * operator's token, which the bridge writes to a 0600 file of the home at
 * start and names (never prints) in its log. A real `@modelcontextprotocol/
 * server-memory` behind the CLI, the official SDK client as the agent.
 */
const REPO = join(import.meta.dirname, '..', '..');
const CLI = join(REPO, 'dist', 'cli', 'main.js');
const MEMORY = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-memory/dist/index.js');

describe("oacp mcp run --http: the approval desk is the operator's", () => {
  let bridge: ChildProcess;
  let url: URL;
  let tokenFile: string;
  let stderr = '';
  let home: Awaited<ReturnType<typeof freshHome>>;
  beforeAll(async () => {
    home = await freshHome('oacp-desk-token-');
    bridge = spawn(
      process.execPath,
      [
        CLI,
        '--home',
        home.home,
        'mcp',
        'run',
        '--tier',
        'light',
        '--http',
        '127.0.0.1:0',
        '--require-approval',
        'read_graph',
        '--',
        process.execPath,
        MEMORY,
      ],
      { env: { PATH: process.env.PATH ?? '', ...home.env }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    [url, tokenFile] = await new Promise<[URL, string]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the bridge did not start: ${stderr}`)), 60_000);
      bridge.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        const at = / at (http:\/\/\S+\/mcp)/.exec(stderr);
        const file = /Authorization: Bearer \$\(cat (\S+)\)/.exec(stderr);
        if (at?.[1] !== undefined && file?.[1] !== undefined) {
          clearTimeout(timer);
          resolve([new URL(at[1]), file[1]]);
        }
      });
      bridge.once('exit', () => reject(new Error(`the bridge exited: ${stderr}`)));
    });
  }, 90_000);
  afterAll(async () => {
    if (bridge !== undefined && bridge.exitCode === null) {
      const exited = new Promise((resolve) => bridge.once('exit', resolve));
      bridge.kill('SIGTERM');
      await exited;
    }
    home?.remove();
  });

  it('keeps the token in a 0600 file of the home, never in its log', () => {
    expect(tokenFile.startsWith(join(home.home, 'approval-desks'))).toBe(true);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(stderr).not.toContain(token);
  });

  it('attack: the agent whose call waits cannot list or approve it; the operator with the token can', async () => {
    const agent = new Client({ name: 'agent', version: '1.0.0' });
    await agent.connect(new StreamableHTTPClientTransport(url));
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
      // What the agent can send: it knows the listener (and, say, guessed the id), not the token.
      expect((await fetch(desk)).status).toBe(401);
      const self = await fetch(new URL(`/oacp/approvals/${id}`, url), {
        method: 'POST',
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
    const exited = new Promise((resolve) => bridge.once('exit', resolve));
    bridge.kill('SIGTERM');
    await exited;
    expect(existsSync(tokenFile)).toBe(false);
  });
});
