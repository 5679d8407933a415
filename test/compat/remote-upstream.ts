import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { CompatServer } from './servers.js';

const NODE_MODULES = join(import.meta.dirname, '..', '..', 'node_modules');

/**
 * The host's first non-internal IPv4 address. The sandbox cannot reach the
 * host's loopback (`--allow-network` refuses it: the egress proxy dials from
 * the host), so the remote server listens on an interface address, which an
 * exact IP-literal allowlist entry opens.
 */
export function interfaceAddress(): string | undefined {
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
  if (address === null || typeof address === 'string') throw new Error(`no free port on ${host}`);
  return address.port;
}

export interface RemoteUpstream {
  /** mcp-remote pointed at the upstream, as a compat server with the network grant it needs. */
  readonly client: CompatServer;
  close(): void;
}

/**
 * server-everything's own Streamable HTTP transport on `host`, and mcp-remote
 * set up for it the way its README shows behind a proxy (`--enable-proxy`:
 * Node's fetch does not read HTTP_PROXY by itself; `--allow-http` for a
 * plain-HTTP URL that is not localhost).
 */
export async function startRemoteUpstream(host: string): Promise<RemoteUpstream> {
  const port = await freePort(host);
  const upstream = spawn(
    process.execPath,
    [join(NODE_MODULES, '@modelcontextprotocol/server-everything/dist/index.js'), 'streamableHttp'],
    { env: { PATH: '/usr/bin:/bin', PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let said = '';
  await new Promise<void>((resolve, reject) => {
    upstream.stderr.on('data', (chunk: Buffer) => {
      said += chunk.toString();
      if (said.includes('listening on port')) resolve();
    });
    upstream.once('exit', (code) => reject(new Error(`server-everything exited ${code}: ${said}`)));
  });
  const client: CompatServer = {
    name: 'mcp-remote',
    script: join(NODE_MODULES, 'mcp-remote/dist/proxy.js'),
    args: () => [`http://${host}:${port}/mcp`, '--allow-http', '--enable-proxy'],
    flags: ['--allow-network', `${host}:${port}`],
    lists: 'get-sum',
    call: { name: 'echo', arguments: () => ({ message: 'hello through mcp-remote' }) },
    answer: /Echo: hello through mcp-remote/,
  };
  return { client, close: () => upstream.kill() };
}
