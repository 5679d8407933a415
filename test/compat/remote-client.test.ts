import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryBuilt, type Identity, runCompat } from './harness.js';
import type { CompatServer } from './servers.js';

const NODE_MODULES = join(import.meta.dirname, '..', '..', 'node_modules');

/**
 * The host's first non-internal IPv4 address. The sandbox cannot reach the
 * host's loopback (`--allow-network` refuses it: the egress proxy dials from
 * the host), so the remote server listens on an interface address, which an
 * exact IP-literal allowlist entry opens.
 */
function interfaceAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((address) => address?.family === 'IPv4' && !address.internal)?.address;
}

async function freePort(host: string): Promise<number> {
  const probe = createServer();
  probe.listen(0, host);
  await once(probe, 'listening');
  const address = probe.address();
  probe.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * mcp-remote, the stdio client most configurations use to reach a remote
 * MCP server, started the way its README shows behind a proxy
 * (`--enable-proxy`: Node's fetch does not read HTTP_PROXY by itself), with
 * server-everything's own Streamable HTTP transport beside it as the remote.
 * It must list the remote's tools and relay one call, through the sandbox's
 * egress proxy, in both tiers, as root and as uid 1000.
 */
const identities: Identity[] = process.getuid?.() === 0 ? ['root', 'user'] : [];
const host = interfaceAddress();

describe.skipIf(!binaryBuilt() || identities.length === 0 || host === undefined)(
  'compat: mcp-remote to a Streamable HTTP server',
  () => {
    let remote: ChildProcess | undefined;
    let server: CompatServer;

    beforeAll(async () => {
      const address = host ?? '';
      const port = await freePort(address);
      remote = spawn(
        process.execPath,
        [join(NODE_MODULES, '@modelcontextprotocol/server-everything/dist/index.js'), 'streamableHttp'],
        { env: { PATH: '/usr/bin:/bin', PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let said = '';
      await new Promise<void>((resolve, reject) => {
        remote?.stderr?.on('data', (chunk: Buffer) => {
          said += chunk.toString();
          if (said.includes('listening on port')) resolve();
        });
        remote?.once('exit', (code) => reject(new Error(`server-everything exited ${code}: ${said}`)));
      });
      server = {
        name: 'mcp-remote',
        script: join(NODE_MODULES, 'mcp-remote/dist/proxy.js'),
        args: () => [`http://${address}:${port}/mcp`, '--allow-http', '--enable-proxy'],
        flags: ['--allow-network', `${address}:${port}`],
        lists: 'get-sum',
        call: { name: 'echo', arguments: () => ({ message: 'hello through mcp-remote' }) },
        answer: /Echo: hello through mcp-remote/,
      };
    }, 60_000);

    afterAll(() => {
      remote?.kill();
    });

    for (const tier of ['hardened', 'gvisor'] as const)
      for (const identity of identities)
        it(`${tier} as ${identity}: tools/list and echo relayed to the remote`, async () => {
          const outcome = await runCompat(server, tier, identity);
          expect(outcome.tools).toContain(server.lists);
          expect(outcome.text).toMatch(/Echo: hello through mcp-remote/);
          expect(outcome.stderr).not.toMatch(/killed by the Airlock/);
        }, 120_000);
  },
);
