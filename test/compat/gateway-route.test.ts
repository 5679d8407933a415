import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST, startGateway, type TestGateway } from '../gateway/service/harness.js';
import { serverEnv, WIDENED_SERVERS } from './servers.js';

/**
 * The `oacp gateway` route: two of the swept servers declared under
 * mcp.servers (as in oacp.yaml), each in the hardened tier with a private
 * (0700) grant, called by an agent through the gateway's HTTP API: git
 * (child processes writing in the grant) and n8n (a native addon, its node
 * database read from its own package). Each call is answered and has its
 * receipt.
 */
const ROUTED = ['git', 'n8n'];
const servers = WIDENED_SERVERS.filter((server) => ROUTED.includes(server.name));
const root = process.getuid?.() === 0;

describe.skipIf(!root)('compat: swept servers through the gateway (mcp.servers)', () => {
  let gw: TestGateway;
  const scratch = mkdtempSync(join(tmpdir(), 'oacp-compat-gw-'));
  const grant = join(scratch, 'grant');
  beforeAll(async () => {
    mkdirSync(grant, { mode: 0o700 });
    writeFileSync(join(grant, 'hello.md'), '# hello\n');
    gw = await startGateway({
      config: {
        mcp: {
          servers: servers.map((server) => ({
            name: server.name,
            command: process.execPath,
            args: [server.script, ...server.args(grant)],
            tier: 'hardened',
            allow_files: [`${grant}:rw`],
            allow_env: Object.keys(serverEnv(server, grant)),
          })),
        },
      },
    });
  }, 120_000);
  afterAll(async () => {
    await gw?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  for (const server of servers)
    it(`${server.name}: ${server.call.name} answered through the gateway, with its receipt`, async () => {
      const agent = await gw.client.createAgent({
        name: `compat-${server.name}`,
        manifest: { ...MANIFEST, capabilities: { tools: { allow: [`${server.name}__*`] } } },
      });
      const tools = await gw.client.listTools();
      expect(tools.map((tool) => tool.name)).toContain(`${server.name}__${server.lists}`);
      const result = await gw.client.callTool(
        `${server.name}__${server.call.name}`,
        server.call.arguments(grant),
        { agent: agent.id },
      );
      if (server.answer !== 'answered') expect(JSON.stringify(result)).toMatch(server.answer);
      expect(result.receipt.index).toBeGreaterThanOrEqual(0);
    }, 120_000);
});
