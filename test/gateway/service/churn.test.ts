import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OacpClient } from '../../../src/client/index.js';
import { adminKey, type ChildGateway, startChild, writeConfig } from './child-gateway.js';
import { freshHome } from './node-home.js';

const MANIFEST = {
  apiVersion: 'oacp.dev/v1',
  kind: 'CapabilityManifest',
  name: 'churn',
  capabilities: { tools: { allow: ['memory__*'] } },
  quotas: { memory_mb: 16 },
};

/** Opens connections and drops them half-way through a request, or idle, or after an answer. */
async function dropConnections(url: URL, count: number): Promise<void> {
  await Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        new Promise<void>((resolve) => {
          const socket = connect(Number(url.port), url.hostname, () => {
            if (i % 3 === 0) socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
            if (i % 3 === 1) socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
            setTimeout(() => socket.destroy(), i % 3 === 1 ? 20 : 1);
          });
          socket.on('error', () => undefined);
          socket.on('close', () => resolve());
        }),
    ),
  );
}

async function cycle(client: OacpClient, url: URL, agents: number, tag: string): Promise<void> {
  const created = await Promise.all(
    Array.from({ length: agents }, (_, i) =>
      client.createAgent({
        name: `churn-${tag}-${i}`,
        manifest: MANIFEST,
        code: 'let calls = 0; function main(input) { calls += 1; return oacp.tools.call("memory__read_graph", {}).then(() => calls); }',
      }),
    ),
  );
  for (const agent of created) await client.startAgent(agent.id);
  await Promise.all(created.map((agent) => client.runAgent(agent.id, { input: {} })));
  await Promise.all(created.map((agent) => client.putContext(agent.id, 'k', 'x'.repeat(1024))));
  await dropConnections(url, 30);
  for (const agent of created) await client.retireAgent(agent.id);
  // Fresh connections each time: a client that does not reuse sockets.
  await Promise.all(
    Array.from({ length: 20 }, () =>
      fetch(new URL('/healthz', url), { headers: { connection: 'close' } }).then((r) => r.text()),
    ),
  );
}

/**
 * Agents are created, started, run and retired and connections opened and
 * dropped over and over (bounded count and time); afterwards the gateway's
 * open file descriptors and heap after a full GC must be back near where they
 * were after the first round (80 agents and 120 dropped connections later). Margins are generous: this catches leaks that
 * grow with every agent or connection, not allocator noise.
 */
describe('gateway churn', () => {
  let child: ChildGateway | undefined;
  const cleanup: Array<() => void> = [];
  afterAll(() => {
    child?.process.kill('SIGKILL');
    for (const step of cleanup) step();
  });

  it('keeps file descriptors and heap flat while agents and connections come and go', async () => {
    const home = await freshHome('oacp-gw-churn-');
    cleanup.push(home.remove);
    const env = { ...home.env, MEMORY_FILE_PATH: join(home.home, 'memory.jsonl') };
    const config = writeConfig(home.home, env.MEMORY_FILE_PATH);
    const key = await adminKey(home.home);
    child = await startChild(home.home, config, env, { fixture: true, exposeGc: true });
    const client = new OacpClient({ baseUrl: child.url, apiKey: key });

    await cycle(client, child.url, 10, 'warm');
    const before = await child.stats();
    expect(before.gc).toBe(true);
    for (let round = 0; round < 4; round++) await cycle(client, child.url, 20, `r${round}`);
    const after = await child.stats();

    expect((await client.health()).agentsRunning).toBe(0);
    // Sockets vary with how many keep-alive connections the test's own fetch pool holds
    // (at most ~30 in flight); a leak per agent (80 here) or per dropped connection (120) would not.
    const sockets = (stats: typeof before) => stats.kinds.socket ?? 0;
    expect(sockets(after), JSON.stringify({ before, after })).toBeLessThanOrEqual(sockets(before) + 30);
    expect(after.fds - sockets(after), JSON.stringify({ before, after })).toBeLessThanOrEqual(
      before.fds - sockets(before) + 4,
    );
    expect(after.heapUsed).toBeLessThanOrEqual(before.heapUsed * 1.5 + 16 * 1024 * 1024);
    child.process.kill('SIGTERM');
    await child.exited;
  }, 180_000);
});
